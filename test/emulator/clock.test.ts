/** The event clock (emulator/core/clock.ts): time moves by timers when every actor is blocked. */
import { describe, expect, it } from 'vitest';
import { Clock } from '../../emulator/core/clock.ts';

const realSleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(ok: () => boolean, what: string, realMs = 5000): Promise<void> {
  const end = Date.now() + realMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await realSleep(2);
  }
}

describe('event clock', () => {
  it('jumps to the next timer when no actor computes, and fires due timers in (time, registration) order', async () => {
    const c = new Clock({ timeScale: 0, startEpochMs: 0 });
    const fired: string[] = [];
    const at = (name: string) => () => fired.push(`${name}@${c.now()}`);
    c.timer(30_000, at('b'));
    c.timer(10_000, at('a'));
    c.timer(30_000, at('c'));
    await until(() => fired.length === 3, 'three timers');
    expect(fired).toEqual(['a@10000', 'b@30000', 'c@30000']);
    c.close();
  });

  it('stands still while an actor computes, however long that takes on the wall', async () => {
    const c = new Clock({ timeScale: 0, startEpochMs: 0 });
    let firedAt = -1;
    c.timer(1000, () => {
      firedAt = c.now();
    });
    await c.spawn('busy', async () => {
      await realSleep(50); // real I/O: the actor computes throughout
      expect(c.now()).toBe(0);
      expect(firedAt).toBe(-1);
    });
    await until(() => firedAt >= 0, 'the timer once the actor is done');
    expect(firedAt).toBe(1000);
    c.close();
  });

  it('lets time move while an actor sleeps, and holds it again from the moment the sleep ends', async () => {
    const c = new Clock({ timeScale: 0, startEpochMs: 0 });
    let later = false;
    c.timer(5001, () => {
      later = true;
    });
    await c.spawn('sleeper', async () => {
      await c.sleep(5000);
      expect(c.now()).toBe(5000);
      await realSleep(30);
      // Computing again: the timer one virtual millisecond later has not fired.
      expect(c.now()).toBe(5000);
      expect(later).toBe(false);
    });
    await until(() => later, 'the later timer');
    c.close();
  });

  it('with a cap never runs faster than 1/timeScale of wall time', async () => {
    const c = new Clock({ timeScale: 0.01, startEpochMs: 0 });
    const t0 = performance.now();
    let firedAt = -1;
    await c.after(2000).then(() => {
      firedAt = c.now();
    });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(19);
    expect(firedAt).toBe(2000);
    c.close();
  });

  it('fires a timer that re-arms itself at the same instant once per round, and later timers after it stops', async () => {
    const c = new Clock({ timeScale: 0, startEpochMs: 0 });
    let n = 0;
    let other = -1;
    let otherAt = -1;
    const again = () => {
      n++;
      expect(c.now()).toBe(0);
      if (n < 50) c.timer(0, again);
    };
    c.timer(0, again);
    c.timer(10, () => {
      other = n;
      otherAt = c.now();
    });
    await until(() => other >= 0, 'the later timer');
    expect(n).toBe(50);
    expect(other).toBe(50);
    expect(otherAt).toBe(10);
    c.close();
  });

  it('drops a cancelled timer without holding back the ones after it', async () => {
    const c = new Clock({ timeScale: 0, startEpochMs: 0 });
    const fired: string[] = [];
    const t = c.timer(100, () => fired.push('cancelled'));
    c.timer(200, () => fired.push(`kept@${c.now()}`));
    t.cancel();
    await until(() => fired.length > 0, 'the kept timer');
    await realSleep(10);
    expect(fired).toEqual(['kept@200']);
    c.close();
  });

  it('treats an actor blocked on another actor as blocked, and the other one as computing', async () => {
    const c = new Clock({ timeScale: 0, startEpochMs: 0 });
    let jumped = false;
    c.timer(60_000, () => {
      jumped = true;
    });
    await c.spawn('caller', async () => {
      const work = c.spawn('callee', async () => {
        await realSleep(40);
        return 'done';
      });
      expect(await c.blockedOn(work)).toBe('done');
    });
    expect(jumped).toBe(false);
    expect(c.state().busy).toEqual([]);
    c.close();
  });
});
