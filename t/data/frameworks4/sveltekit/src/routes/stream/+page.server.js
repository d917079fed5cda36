/** @type {import('./$types').PageServerLoad} */
export function load() {
  return {
    fast: 'fast value',
    // not awaited: SvelteKit streams it once it resolves
    slow: new Promise((resolve) => setTimeout(() => resolve('slow value'), 600)),
  };
}
