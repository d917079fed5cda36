import type { APIRoute } from 'astro';

export const GET: APIRoute = ({ url, locals }) =>
  Response.json({ hello: url.searchParams.get('who') ?? 'anonymous', site: locals.runtime.env.SITE_NAME });

export const POST: APIRoute = async ({ request }) => {
  const body = await request.json();
  return Response.json({ received: body, length: JSON.stringify(body).length }, { status: 201 });
};
