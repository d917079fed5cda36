import type { RequestHandler } from "@builder.io/qwik-city";

export const onGet: RequestHandler = async ({ json, query, headers }) => {
  headers.set("Cache-Control", "no-store");
  json(200, { greet: query.get("who") ?? "nobody" });
};

export const onPost: RequestHandler = async ({ json, parseBody }) => {
  json(201, { received: await parseBody() });
};
