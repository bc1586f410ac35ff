package io.pref4j.train.run;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class NanGuardTest {

    @Test
    void finiteValuesPassAndAreRemembered() {
        NanGuard g = new NanGuard();
        assertEquals(0.5, g.check(1, "loss", 0.5));
        assertEquals(2.0, g.check(1, "grad_norm", 2.0));
        assertEquals(0.25, g.check(2, "loss", 0.25));
        assertEquals(new NanGuard.Good(2, 0.25), g.lastGood().get("loss"));
        assertEquals(new NanGuard.Good(1, 2.0), g.lastGood().get("grad_norm"));
        assertEquals(java.util.List.of("loss", "grad_norm"), java.util.List.copyOf(g.lastGood().keySet()));
    }

    @Test
    void nanStopsWithADiagnostic() {
        NanGuard g = new NanGuard();
        g.check(55, "loss", 0.6812);
        g.check(55, "grad_norm", 3.21);
        g.check(56, "loss", 0.6);
        Path ckpt = Path.of("runs", "x", "checkpoints", "ckpt-000050");
        g.checkpointed(ckpt);
        g.check(57, "loss", 0.59);
        NonFiniteException e = assertThrows(NonFiniteException.class, () -> g.check(57, "grad_norm", Double.NaN));
        assertEquals(57, e.step());
        assertEquals("grad_norm", e.quantity());
        assertTrue(Double.isNaN(e.value()));
        assertEquals(ckpt, e.lastCheckpoint());
        assertEquals(3, NonFiniteException.EXIT_STATUS);
        assertEquals("non-finite grad_norm at step 57: NaN; last good values: loss 0.590000 (step 57), "
                + "grad_norm 3.21000 (step 55); last checkpoint: " + ckpt + " (kept); "
                + "try a lower optim.lr, optim.clip > 0 or a smaller loss.beta", e.getMessage());
    }

    @Test
    void infinityAndNoHistory() {
        NanGuard g = new NanGuard();
        NonFiniteException e = assertThrows(NonFiniteException.class, () -> g.check(1, "loss", Double.NEGATIVE_INFINITY));
        assertTrue(e.getMessage().startsWith("non-finite loss at step 1: -Infinity; no finite values before it; "
                + "last checkpoint: none yet"), e.getMessage());
        assertNull(e.lastCheckpoint());
    }
}
