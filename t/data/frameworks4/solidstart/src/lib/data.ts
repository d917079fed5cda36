import { action, query, redirect } from "@solidjs/router";
import { getRequestEvent } from "solid-js/web";

type Env = { GREETING: string; NOTES: KVNamespace };

function env(): Env {
  return (getRequestEvent()!.nativeEvent.context as any).cloudflare.env;
}

export const getGreeting = query(async () => {
  "use server";
  const url = new URL(getRequestEvent()!.request.url);
  return { greeting: env().GREETING, name: url.searchParams.get("name") ?? "world" };
}, "greeting");

// Kept in KV: the page and the action's server function are separate bundles
export const getNotes = query(async () => {
  "use server";
  return ((await env().NOTES.get("notes", "json")) as string[] | null) ?? [];
}, "notes");

export const addNote = action(async (form: FormData) => {
  "use server";
  const text = String(form.get("text") ?? "");
  if (!text) return new Error("text is required");
  const notes = ((await env().NOTES.get("notes", "json")) as string[] | null) ?? [];
  await env().NOTES.put("notes", JSON.stringify([...notes, text]));
  throw redirect("/notes");
}, "addNote");
