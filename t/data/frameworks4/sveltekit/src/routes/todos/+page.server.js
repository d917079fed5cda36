import { fail, redirect } from '@sveltejs/kit';

const todos = [];

/** @type {import('./$types').PageServerLoad} */
export function load() {
  return { todos: [...todos] };
}

/** @type {import('./$types').Actions} */
export const actions = {
  add: async ({ request, cookies }) => {
    const data = await request.formData();
    const text = String(data.get('text') ?? '').trim();
    if (!text) return fail(400, { missing: true });
    todos.push(text);
    cookies.set('user', 'todo-writer', { path: '/' });
    return { added: text };
  },
  clear: async () => {
    todos.length = 0;
    redirect(303, '/todos?cleared=1');
  },
};
