/** @type {import('@sveltejs/kit').Handle} */
export async function handle({ event, resolve }) {
  event.locals.user = event.cookies.get('user') ?? 'guest';
  const response = await resolve(event, {
    transformPageChunk: ({ html }) => html.replace('<html lang="en">', '<html lang="en" data-hook="yes">'),
  });
  response.headers.set('X-Hook', 'sveltekit');
  return response;
}
