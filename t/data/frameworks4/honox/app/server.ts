import { createApp } from 'honox/server';

const app = createApp();

export default app;
