import { MetaProvider, Title } from "@solidjs/meta";
import { Router } from "@solidjs/router";
import { FileRoutes } from "@solidjs/start/router";
import { Suspense } from "solid-js";

export default function App() {
  return (
    <Router root={(props) => (
      <MetaProvider>
        <Title>SolidStart on Workers</Title>
        <Suspense>{props.children}</Suspense>
      </MetaProvider>
    )}>
      <FileRoutes />
    </Router>
  );
}
