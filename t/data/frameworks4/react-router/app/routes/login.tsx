import { Form, redirect } from "react-router";
import type { Route } from "./+types/login";
import { commitSession, destroySession, getSession } from "../sessions.server";

export async function loader({ request }: Route.LoaderArgs) {
  const session = await getSession(request.headers.get("Cookie"));
  return { user: session.get("user") ?? null, notice: session.get("notice") ?? null };
}

export async function action({ request, context }: Route.ActionArgs) {
  const session = await getSession(request.headers.get("Cookie"));
  const form = await request.formData();
  if (form.get("intent") === "logout") {
    return redirect("/login", { headers: { "Set-Cookie": await destroySession(session) } });
  }
  session.set("user", String(form.get("user")));
  session.flash("notice", "welcome back");
  context.cloudflare.ctx.waitUntil(Promise.resolve());
  return redirect("/login", { headers: { "Set-Cookie": await commitSession(session) } });
}

export default function Login({ loaderData }: Route.ComponentProps) {
  return (
    <main>
      <p id="user">{loaderData.user ? `signed in as ${loaderData.user}` : "signed out"}</p>
      {loaderData.notice ? <p id="notice">{loaderData.notice}</p> : null}
      <Form method="post"><input name="user" /><button>Sign in</button></Form>
    </main>
  );
}
