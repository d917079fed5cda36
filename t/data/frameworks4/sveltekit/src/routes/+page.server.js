/** @type {import('./$types').PageServerLoad} */
export function load({ url, platform, locals, request, setHeaders }) {
  setHeaders({ 'Cache-Control': 'max-age=60' });
  return {
    greeting: platform?.env?.GREETING ?? 'no platform',
    name: url.searchParams.get('name') ?? 'world',
    user: locals.user,
    hasWaitUntil: typeof platform?.context?.waitUntil === 'function',
    country: request.headers.get('cf-ipcountry') ?? 'unknown',
  };
}
