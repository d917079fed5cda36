import { component$ } from "@builder.io/qwik";
import { Form, routeAction$, routeLoader$, z, zod$ } from "@builder.io/qwik-city";

const todos: string[] = [];

export const useTodos = routeLoader$(() => [...todos]);

export const useAddTodo = routeAction$(
  (data) => {
    todos.push(data.text);
    return { added: data.text };
  },
  zod$({ text: z.string().min(1) }),
);

export default component$(() => {
  const list = useTodos();
  const add = useAddTodo();
  return (
    <>
      <ul>{list.value.map((t) => <li key={t}>{t}</li>)}</ul>
      {add.value?.failed && <p class="error">text is invalid</p>}
      {add.value?.added && <p class="added">added {add.value.added}</p>}
      <Form action={add}><input name="text" /><button>Add</button></Form>
    </>
  );
});
