import { component$, useSignal } from "@builder.io/qwik";
import { routeLoader$, type DocumentHead } from "@builder.io/qwik-city";

export const useGreeting = routeLoader$(({ platform, url, cookie, request }) => {
  const visits = Number(cookie.get("visits")?.value ?? "0") + 1;
  cookie.set("visits", String(visits), { path: "/", httpOnly: true });
  return {
    greeting: platform.env?.GREETING ?? "no env",
    name: url.searchParams.get("name") ?? "world",
    visits,
    ua: request.headers.get("user-agent") ?? "",
  };
});

export default component$(() => {
  const data = useGreeting();
  const count = useSignal(2);
  return (
    <>
      <h1>{data.value.greeting}, {data.value.name}!</h1>
      <p id="visits">visit {data.value.visits}</p>
      <button onClick$={() => count.value++}>count {count.value}</button>
    </>
  );
});

export const head: DocumentHead = ({ resolveValue }) => ({ title: `Qwik: ${resolveValue(useGreeting).name}` });
