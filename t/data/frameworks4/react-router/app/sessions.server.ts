import { createCookieSessionStorage } from "react-router";

type SessionData = { user: string };
type SessionFlashData = { notice: string };

export const { getSession, commitSession, destroySession } = createCookieSessionStorage<SessionData, SessionFlashData>({
  cookie: { name: "__session", httpOnly: true, path: "/", sameSite: "lax", secrets: ["s3cret-one"], maxAge: 3600 },
});
