export default defineEventHandler((event) => {
  const { name = 'world' } = getQuery(event);
  const env = event.context.cloudflare?.env ?? {};
  setCookie(event, 'seen', 'yes', { httpOnly: true, path: '/' });
  return `<!doctype html><html><head><title>nitro</title></head><body>`
    + `<h1>${env.NITRO_GREETING ?? 'no env'}, ${name}!</h1>`
    + `<p id="seen">${getCookie(event, 'seen') ?? 'first visit'}</p>`
    + `<p id="ua">${getRequestHeader(event, 'user-agent') ?? ''}</p></body></html>`;
});
