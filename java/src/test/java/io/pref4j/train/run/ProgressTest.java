package io.pref4j.train.run;

import io.pref4j.config.LogSection;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.*;

class ProgressTest {

    final ByteArrayOutputStream buf = new ByteArrayOutputStream();
    final PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8);
    long now;

    String text() {
        return buf.toString(StandardCharsets.UTF_8);
    }

    @Test
    void plainLinesEveryNSteps() {
        Progress p = new Progress(out, false, 10, 4, () -> now);
        p.start(0);
        for (int s = 1; s <= 10; s++) {
            now += 500_000_000L; // 0.5 s per step
            p.update(s, -s, 1.0 / s, 1000);
        }
        String[] lines = text().split("\n");
        assertEquals(3, lines.length, text()); // steps 4, 8 and the last
        assertEquals("step 4/10 (40%)  reward -4.0000  loss 0.2500  2.0k tok/s  ETA 3s", lines[0]);
        assertTrue(lines[1].startsWith("step 8/10 (80%)"), lines[1]);
        assertTrue(lines[2].startsWith("step 10/10 (100%)") && lines[2].endsWith("ETA 0s"), lines[2]);
        assertFalse(text().contains("\r"));
    }

    @Test
    void liveLineIsRewrittenAndThrottled() {
        Progress p = new Progress(out, true, 100, 1, () -> now);
        p.start(50); // resumed after step 50: rates count only this process's steps
        now += 1_000_000_000L;
        p.update(51, 1.5, 0.25, 300);
        now += 10_000_000L; // 10 ms later: throttled
        p.update(52, 1.6, 0.2, 300);
        assertEquals("\rstep 51/100 (51%)  reward 1.5000  loss 0.2500  300 tok/s  ETA 49s", text());
        now += 200_000_000L;
        p.update(53, 1.7, 1e-5, 300);
        assertFalse(text().contains("\n"));
        String l53 = "step 53/100 (53%)  reward 1.7000  loss 1.000e-05  744 tok/s  ETA 19s";
        assertTrue(text().endsWith("\r" + l53), text());
        // a message clears the line first, and the next update starts a new one
        p.println("checkpoint written");
        assertTrue(text().endsWith("\r" + " ".repeat(l53.length()) + "\rcheckpoint written\n"), text());
        now += 200_000_000L;
        p.update(100, Double.NaN, 0.1, 300);
        assertTrue(text().endsWith("loss 0.1000  851 tok/s  ETA 0s\n"), text()); // the last step ends the line
        assertFalse(text().contains("reward nan"), "a run without rewards (offline) shows none");
        assertTrue(text().contains("step 100/100 (100%)  loss 0.1000"), text());
    }

    @Test
    void shorterLinesOverwriteLongerOnes() {
        Progress p = new Progress(out, true, 10, 1, () -> now);
        p.start(0);
        now += 1_000_000_000L;
        p.update(1, -123456.0, 0.5, 10);
        String first = text().substring(1);
        now += 1_000_000_000L;
        p.update(2, 1, 0.5, 10);
        String second = text().substring(first.length() + 2);
        assertTrue(second.length() >= first.length(), "padding clears the previous line: [" + second + "]");
    }

    @Test
    void modeChoice() {
        assertTrue(Progress.live(LogSection.Progress.AUTO, true));
        assertFalse(Progress.live(LogSection.Progress.AUTO, false));
        assertTrue(Progress.live(LogSection.Progress.ALWAYS, false));
        assertFalse(Progress.live(LogSection.Progress.NEVER, true));
        assertEquals("1h01m", Progress.duration(3660));
        assertEquals("1.5M", Progress.rate(1.5e6));
    }
}
