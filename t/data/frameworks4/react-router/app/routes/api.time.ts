import type { Route } from "./+types/api.time";

export function loader({ request }: Route.LoaderArgs) {
  return Response.json({ method: request.method, path: new URL(request.url).pathname, ok: true },
                       { headers: { "Cache-Control": "no-store" } });
}
