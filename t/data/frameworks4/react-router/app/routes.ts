import { type RouteConfig, index, route } from "@react-router/dev/routes";

export default [
  index("routes/home.tsx"),
  route("guestbook", "routes/guestbook.tsx"),
  route("slow", "routes/slow.tsx"),
  route("login", "routes/login.tsx"),
  route("api/time", "routes/api.time.ts"),
] satisfies RouteConfig;
