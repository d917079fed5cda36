export default defineEventHandler(async () => {
  const todos = (await useStorage('cache').getItem<string[]>('todos')) ?? [];
  return { todos, count: todos.length };
});
