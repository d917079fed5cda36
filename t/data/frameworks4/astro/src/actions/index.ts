import { defineAction, ActionError } from 'astro:actions';
import { z } from 'astro:schema';

export const server = {
  addToCart: defineAction({
    accept: 'form',
    input: z.object({ item: z.string().min(1), qty: z.coerce.number().int().positive() }),
    handler: async ({ item, qty }, context) => {
      const cart = (await context.session?.get('cart')) ?? [];
      cart.push({ item, qty });
      context.session?.set('cart', cart);
      return { count: cart.length, last: item };
    },
  }),
  shout: defineAction({
    input: z.object({ text: z.string() }),
    handler: async ({ text }) => {
      if (text === 'forbidden') throw new ActionError({ code: 'FORBIDDEN', message: 'not allowed' });
      return { loud: text.toUpperCase() };
    },
  }),
};
