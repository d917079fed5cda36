import { Suspense } from "react";
import { Await } from "react-router";
import type { Route } from "./+types/slow";

export function loader() {
  const late = new Promise<string>((resolve) => setTimeout(() => resolve("late data arrived"), 600));
  return { early: "early data", late };
}

export default function Slow({ loaderData }: Route.ComponentProps) {
  return (
    <main>
      <p>{loaderData.early}</p>
      <Suspense fallback={<p>loading...</p>}>
        <Await resolve={loaderData.late}>{(v) => <p id="late">{v}</p>}</Await>
      </Suspense>
    </main>
  );
}
