package io.pref4j.train.run;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import io.pref4j.config.Configs;
import io.pref4j.config.TrainConfig;
import io.pref4j.io.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class CheckpointsTest {

    @TempDir
    Path dir;

    static float[] weights(long step) {
        float[] w = new float[37];
        for (int i = 0; i < w.length; i++) w[i] = step * 100 + i * 0.25f;
        return w;
    }

    static Checkpoints.Save save(long step, TrainConfig cfg) {
        ObjectNode state = JsonNodeFactory.instance.objectNode();
        state.put("iteration", step * 10);
        state.put("rng", 0x9E3779B97F4A7C15L * step);
        state.putArray("cursors").add(step).add(step + 1);
        return Checkpoints.Save.of(step,
                () -> List.of(SafeTensors.Entry.f32("w", weights(step), 37), SafeTensors.Entry.f32("b", new float[]{step}, 1)),
                () -> List.of(SafeTensors.Entry.f32("m", weights(step + 1), 37)),
                state, cfg);
    }

    List<String> names() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void saveAndReadBack() throws IOException {
        TrainConfig cfg = TrainConfig.load(null, List.of("loop.reuse=3", "run.name=ck"));
        Checkpoints ck = new Checkpoints(dir, 3);
        Checkpoint written = ck.save(save(7, cfg));
        assertEquals(dir.resolve("ckpt-000007"), written.dir());
        assertEquals("ckpt-000007\n", Files.readString(dir.resolve("latest")));
        Checkpoint c = Checkpoints.latest(dir).orElseThrow();
        assertEquals(7, c.step());
        assertEquals(70, c.state().get("iteration").asLong());
        assertEquals(0x9E3779B97F4A7C15L * 7, c.state().get("rng").longValue());
        assertEquals(cfg, c.config(TrainConfig.class));
        assertEquals(cfg, TrainConfig.load(c.dir().resolve(Checkpoints.CONFIG), List.of()));
        try (SafeTensors m = c.openModel(); SafeTensors o = c.openOptimizer()) {
            assertArrayEquals(weights(7), m.floats("w"));
            assertArrayEquals(new float[]{7}, m.floats("b"));
            assertArrayEquals(weights(8), o.floats("m"));
        }
        assertEquals(List.of(Checkpoints.MODEL, Checkpoints.OPTIMIZER, Checkpoints.STATE, Checkpoints.CONFIG).stream().sorted().toList(),
                Files.list(c.dir()).map(p -> p.getFileName().toString()).sorted().toList());
    }

    @Test
    void keepsTheNewestAndDropsAbandonedFutures() throws IOException {
        Checkpoints ck = new Checkpoints(dir, 2);
        for (long s = 1; s <= 4; s++) ck.save(save(s, null));
        assertEquals(List.of("ckpt-000003", "ckpt-000004", "latest"), names());
        // resumed from 3 (say 4 was judged bad) and reached 4 again with different weights
        Checkpoints.Save redo = new Checkpoints.Save(4, () -> List.of(SafeTensors.Entry.f32("w", new float[]{-1}, 1)),
                null, null, null, null);
        ck.save(redo);
        try (SafeTensors m = Checkpoints.latest(dir).orElseThrow().openModel()) {
            assertArrayEquals(new float[]{-1}, m.floats("w"));
        }
        // a run resumed from 3 that saves 3.5-equivalent step 3 again removes the newer 4
        Checkpoints ck5 = new Checkpoints(dir, 5);
        ck5.save(save(3, null));
        assertEquals(List.of("ckpt-000003", "latest"), names());
        assertEquals(3, Checkpoints.latest(dir).orElseThrow().step());
    }

    @Test
    void aSaveThatDiesMidwayLeavesThePreviousCheckpointIntact() throws IOException {
        Checkpoints ck = new Checkpoints(dir, 1);
        ck.save(save(1, TrainConfig.defaults()));
        // dies after the model file is written, while producing the optimiser state
        Checkpoints.Save dying = new Checkpoints.Save(2, save(2, null).model(),
                () -> { throw new IllegalStateException("killed"); }, null, null, null);
        assertEquals("killed", assertThrows(IllegalStateException.class, () -> ck.save(dying)).getMessage());
        // dies while writing an extra file
        Checkpoints.Save dying2 = new Checkpoints.Save(2, save(2, null).model(), null, null, null, folder -> {
            Files.writeString(folder.resolve("config.json"), "{\"half");
            throw new IOException("disk full");
        });
        assertThrows(java.io.UncheckedIOException.class, () -> ck.save(dying2));
        assertEquals(List.of("ckpt-000001", "latest"), names());
        Checkpoint c = Checkpoints.latest(dir).orElseThrow();
        assertEquals(1, c.step());
        try (SafeTensors m = c.openModel()) {
            assertArrayEquals(weights(1), m.floats("w"));
        }
        assertEquals(TrainConfig.defaults(), c.config(TrainConfig.class));
    }

    @Test
    void leftoversAndABadPointerAreIgnored() throws IOException {
        Checkpoints ck = new Checkpoints(dir, 3);
        ck.save(save(1, null));
        ck.save(save(2, null));
        // what a kill -9 during the write of step 3 leaves: a half-written tmp folder
        Path tmp = Files.createDirectories(dir.resolve("ckpt-000003.tmp-1234"));
        Files.write(tmp.resolve(Checkpoints.MODEL), new byte[]{1, 2, 3});
        Files.writeString(dir.resolve("latest"), "ckpt-0000\u0000garbage");
        assertEquals(2, Checkpoints.latest(dir).orElseThrow().step());
        assertTrue(Checkpoints.pointer(dir).isEmpty());
        Files.delete(dir.resolve("latest"));
        assertEquals(2, Checkpoints.latest(dir).orElseThrow().step());
        // a stale pointer (crash between the rename and the pointer update) loses to the scan
        Files.writeString(dir.resolve("latest"), "ckpt-000001\n");
        assertEquals(2, Checkpoints.latest(dir).orElseThrow().step());
        // the next save removes the leftover and fixes the pointer
        ck.save(save(3, null));
        assertEquals(List.of("ckpt-000001", "ckpt-000002", "ckpt-000003", "latest"), names());
        assertEquals(dir.resolve("ckpt-000003"), Checkpoints.pointer(dir).orElseThrow());
        assertEquals(List.of(dir.resolve("ckpt-000001"), dir.resolve("ckpt-000002"), dir.resolve("ckpt-000003")),
                Checkpoints.list(dir));
    }

    @Test
    void noCheckpointsIsEmpty() {
        assertEquals(Optional.empty(), Checkpoints.latest(dir));
        assertEquals(Optional.empty(), Checkpoints.latest(dir.resolve("missing")));
    }

    static String damaged(Runnable r) {
        String m = assertThrows(UserInputException.class, r::run).getMessage();
        assertFalse(m.contains("\n"), m);
        return m;
    }

    @Test
    void damageIsReportedNamingTheFile() throws IOException {
        Checkpoints ck = new Checkpoints(dir, 3);
        ck.save(save(1, null));
        Path c2 = ck.save(save(2, TrainConfig.defaults())).dir();
        Path model = c2.resolve(Checkpoints.MODEL);
        byte[] good = Files.readAllBytes(model);

        // one flipped bit in the data
        byte[] flipped = good.clone();
        flipped[flipped.length - 3] ^= 1;
        Files.write(model, flipped);
        String m = damaged(() -> Checkpoints.latest(dir));
        assertTrue(m.startsWith(model + ": checksum mismatch"), m);
        assertTrue(m.endsWith("remove " + c2 + " to resume from ckpt-000001"), m);

        // truncated
        try (RandomAccessFile f = new RandomAccessFile(model.toFile(), "rw")) {
            f.setLength(good.length - 8);
        }
        m = damaged(() -> Checkpoints.open(c2));
        assertEquals(model + ": " + (good.length - 8) + " bytes, expected " + good.length
                + "; the file is truncated or was changed", m);
        Files.write(model, good);
        assertEquals(2, Checkpoints.open(c2).step());

        // missing file
        Path opt = c2.resolve(Checkpoints.OPTIMIZER);
        byte[] optBytes = Files.readAllBytes(opt);
        Files.delete(opt);
        assertEquals(opt + ": missing; the checkpoint is incomplete", damaged(() -> Checkpoints.open(c2)));
        Files.write(opt, optBytes);

        // state.json garbled, missing, or of another step
        Path state = c2.resolve(Checkpoints.STATE);
        String stateText = Files.readString(state);
        Files.writeString(state, stateText.substring(0, stateText.length() / 2));
        assertTrue(damaged(() -> Checkpoints.open(c2)).startsWith(state + ": malformed JSON ("));
        Files.writeString(state, stateText.replace("\"step\" : 2", "\"step\" : 5"));
        assertEquals(state + ": step 5 does not match the folder name ckpt-000002", damaged(() -> Checkpoints.open(c2)));
        Files.writeString(state, "{\"format\": \"something else\"}");
        assertTrue(damaged(() -> Checkpoints.open(c2)).startsWith(state + ": not a pref4j checkpoint state"));
        Files.delete(state);
        assertEquals(state + ": missing; the checkpoint is incomplete", damaged(() -> Checkpoints.open(c2)));
        Files.writeString(state, stateText);
        assertEquals(2, Checkpoints.latest(dir).orElseThrow().step());

        // the resolved config is validated as a config, naming its file
        Path cfg = c2.resolve(Checkpoints.CONFIG);
        String cfgText = Files.readString(cfg, StandardCharsets.UTF_8);
        Checkpoint ok = Checkpoints.open(c2, false);
        assertEquals(TrainConfig.defaults(), ok.config(TrainConfig.class));
        Checkpoint edited = new Checkpoint(c2, 2, ok.state(),
                Configs.toTree(TrainConfig.defaults()).put("bogus", 1));
        assertEquals(cfg + ": unknown key bogus (valid keys: run, model, data, loop, optim, sampling, optune, loss, reward, checkpoint, log)",
                damaged(() -> edited.config(TrainConfig.class)));
        assertFalse(cfgText.isEmpty());
    }
}
