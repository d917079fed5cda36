import type { APIEvent } from "@solidjs/start/server";

export async function GET({ request, params }: APIEvent) {
  const url = new URL(request.url);
  return Response.json({ hello: url.searchParams.get("who") ?? "api", method: request.method });
}

export async function POST({ request }: APIEvent) {
  const body = await request.json();
  return Response.json({ echoed: body }, { status: 201 });
}
