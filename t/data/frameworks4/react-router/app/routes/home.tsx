import type { Route } from "./+types/home";

export function meta() {
  return [{ title: "RR on Workers" }];
}

export function loader({ request, context }: Route.LoaderArgs) {
  const url = new URL(request.url);
  return {
    greeting: context.cloudflare.env.GREETING,
    name: url.searchParams.get("name") ?? "world",
    ua: request.headers.get("user-agent") ?? "",
  };
}

export default function Home({ loaderData }: Route.ComponentProps) {
  return (
    <main>
      <h1>{loaderData.greeting}, {loaderData.name}!</h1>
      <p id="ua">{loaderData.ua}</p>
    </main>
  );
}
