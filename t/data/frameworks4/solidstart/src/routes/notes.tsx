import { createAsync } from "@solidjs/router";
import { For } from "solid-js";
import { addNote, getNotes } from "../lib/data";

export default function Notes() {
  const notes = createAsync(() => getNotes());
  return (
    <main>
      <ul><For each={notes()}>{(n) => <li>{n}</li>}</For></ul>
      <form action={addNote} method="post"><input name="text" /><button>Add</button></form>
    </main>
  );
}
