import { json, error } from '@sveltejs/kit';

/** @type {import('./$types').RequestHandler} */
export function GET({ url }) {
  const limit = Number(url.searchParams.get('limit') ?? '3');
  if (!Number.isInteger(limit) || limit < 0) error(400, 'bad limit');
  return json({ items: Array.from({ length: limit }, (_, i) => ({ id: i + 1 })) });
}

/** @type {import('./$types').RequestHandler} */
export async function POST({ request }) {
  const { name } = await request.json();
  return json({ created: name }, { status: 201, headers: { Location: `/api/items/${name}` } });
}
