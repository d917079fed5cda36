export default defineEventHandler((event) => {
  const id = getRouterParam(event, 'id');
  return { id, doubled: Number(id) * 2, method: event.method };
});
