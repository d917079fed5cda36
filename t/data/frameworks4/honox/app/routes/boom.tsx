import { createRoute } from 'honox/factory';

export default createRoute(() => { throw new Error('kaboom'); });
