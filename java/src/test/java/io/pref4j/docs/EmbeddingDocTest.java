package io.pref4j.docs;

import org.junit.jupiter.api.Test;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/** Compiles and runs the program in docs/embedding.md and checks what it prints. */
class EmbeddingDocTest {

    @Test
    void docExampleRunsAndIsCorrect() throws Exception {
        Path doc = Path.of("..", "docs", "embedding.md");
        String md = Files.readString(doc);
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(md);
        assertTrue(m.find(), "docs/embedding.md has a java code block");
        String src = m.group(1);

        Path dir = Files.createTempDirectory("pref4j-doc");
        Path file = dir.resolve("EmbeddingExample.java");
        Files.writeString(file, src);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertNotNull(javac, "tests run on a JDK");
        ByteArrayOutputStream diag = new ByteArrayOutputStream();
        int rc = javac.run(null, diag, diag, "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), "-d", dir.toString(), file.toString());
        assertEquals(0, rc, "the doc example compiles:\n" + diag);

        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream old = System.out;
        try (URLClassLoader cl = new URLClassLoader(new URL[]{dir.toUri().toURL()}, getClass().getClassLoader())) {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            Method main = cl.loadClass("EmbeddingExample").getMethod("main", String[].class);
            main.invoke(null, (Object) new String[0]);
        } finally {
            System.setOut(old);
        }
        List<String> lines = captured.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(4, lines.size(), captured.toString());

        // naive reference in double precision, same inputs as the example
        int N = 4, C = 8, V = 50;
        for (int n = 0; n < N; n++) {
            double[] z = new double[V];
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < V; v++) {
                double s = 0;
                for (int c = 0; c < C; c++) s += (double) (float) Math.sin(n * C + c) * (float) Math.cos(0.7 * (v * C + c));
                z[v] = s;
                max = Math.max(max, s);
            }
            double sum = 0;
            for (double x : z) sum += Math.exp(x - max);
            double lse = max + Math.log(sum);
            int t = (7 * n + 3) % V;
            double logp = z[t] - lse, ent = 0, dh0 = (float) Math.cos(0.7 * (t * C));
            for (int v = 0; v < V; v++) {
                double p = Math.exp(z[v] - lse);
                ent -= p * (z[v] - lse);
                dh0 -= p * (float) Math.cos(0.7 * (v * C));
            }
            Matcher r = Pattern.compile("row (\\d+): logp (\\S+) entropy (\\S+) dhidden\\[0] (\\S+)").matcher(lines.get(n));
            assertTrue(r.matches(), lines.get(n));
            assertEquals(n, Integer.parseInt(r.group(1)));
            assertEquals(logp, Double.parseDouble(r.group(2).replace(",", ".")), 1e-4);
            assertEquals(ent, Double.parseDouble(r.group(3).replace(",", ".")), 1e-4);
            assertEquals(dh0, Double.parseDouble(r.group(4).replace(",", ".")), 1e-4);
        }
    }
}
