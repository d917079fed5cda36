export default defineEventHandler((event) => {
  event.context.startedAt = Date.now();
  setResponseHeader(event, 'X-Middleware', 'nitro');
});
