import { Form, redirect, data } from "react-router";
import type { Route } from "./+types/guestbook";

const entries: string[] = [];

export function loader() {
  return { entries };
}

export async function action({ request }: Route.ActionArgs) {
  const form = await request.formData();
  const name = String(form.get("name") ?? "").trim();
  if (!name) return data({ error: "name is required" }, { status: 400 });
  entries.push(name);
  return redirect("/guestbook?signed=" + encodeURIComponent(name), {
    headers: { "Set-Cookie": `signed=${encodeURIComponent(name)}; Path=/; HttpOnly` },
  });
}

export default function Guestbook({ loaderData, actionData }: Route.ComponentProps) {
  return (
    <main>
      <ul>{loaderData.entries.map((e) => <li key={e}>{e}</li>)}</ul>
      {actionData?.error ? <p className="error">{actionData.error}</p> : null}
      <Form method="post"><input name="name" /><button type="submit">Sign</button></Form>
    </main>
  );
}
