import { randomCheckpoint } from './index.js';
it('smoke', () => {
  const t = Date.now();
  randomCheckpoint({ nLayer: 2, nEmbd: 768 }, 1);
  console.log('2x768', Date.now() - t);
});
