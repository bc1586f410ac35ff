package io.pref4j.kernel.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.RecursiveAction;

/**
 * A fixed pool of worker threads and one primitive, {@link #range}: split [0, n) into at
 * most {@code threads} contiguous pieces of at least {@code grain} items and run them in
 * parallel, the caller's thread taking one piece. With one thread (or a small n) the body
 * runs inline.
 */
public final class Parallel implements AutoCloseable {

    /** The body of a parallel loop over [start, end). */
    @FunctionalInterface
    public interface Body {
        void run(int start, int end);
    }

    private final int threads;
    private final ForkJoinPool pool;

    public Parallel(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        this.pool = threads == 1 ? null : new ForkJoinPool(threads);
    }

    public int threads() {
        return threads;
    }

    /** Runs body over [0, n) in at most threads() pieces of at least grain items each. */
    public void range(int n, int grain, Body body) {
        if (n <= 0) return;
        int pieces = Math.min(threads, Math.max(1, n / Math.max(1, grain)));
        if (pieces <= 1 || pool == null) {
            body.run(0, n);
            return;
        }
        ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[pieces - 1];
        for (int p = 1; p < pieces; p++) {
            final int s = (int) ((long) n * p / pieces), e = (int) ((long) n * (p + 1) / pieces);
            tasks[p - 1] = pool.submit(new RecursiveAction() {
                @Override protected void compute() { body.run(s, e); }
            });
        }
        Throwable failure = null;
        try {
            body.run(0, (int) ((long) n / pieces));
        } catch (Throwable t) {
            failure = t;
        }
        for (ForkJoinTask<?> t : tasks) {
            try {
                t.join();
            } catch (Throwable e) {
                if (failure == null) failure = e;
            }
        }
        if (failure instanceof RuntimeException re) throw re;
        if (failure instanceof Error er) throw er;
        if (failure != null) throw new RuntimeException(failure);
    }

    @Override
    public void close() {
        if (pool != null) pool.shutdownNow();
    }
}
