// host_tests.cpp - the kernels' per-element formulas (formulas.cuh, llama.cuh) on the host,
// checked against what the Java CPU backend computes (issue 12 item 4): no GPU, no nvcc.
//
//   g++ -std=c++17 -O2 -ffp-contract=off -o host_tests cuda/host_tests.cpp && ./host_tests cuda/host_tests/formulas.tsv
//
// The table (one case a line: name, inputs, Java's outputs; floats as Java hex floats,
// longs in decimal) is written by FormulaTableTest from CpuKernels, CpuLosses and
// CounterRng, and that test fails when Java no longer computes what the table says. Bit
// patterns (the RNG, bf16 rounding) must be equal; float formulas agree within a relative
// tolerance: GELU 1e-5 (the host's expf against the CPU backend's vectorised exp differ by up
// to ~4e-6 relative in the negative tail), SiLU 2e-6 relative plus 1e-30 absolute (the CPU
// clamps e^-g at g < -88 where the kernels let it overflow to inf: -5e-37 against -0).
// Exit 0 all pass,
// 1 a case failed, 2 the table could not be read. Run by Maven in the cuda profile (the
// host-formula-tests execution of exec-maven-plugin) and by cuda/build.sh's caller in CI.
#include "formulas.cuh"
#include "llama.cuh"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace p4j;

static int failures = 0, cases = 0;

static bool close(double got, double want, double rtol, double atol) {
    if (std::isnan(want)) return std::isnan(got);
    if (got == want) return true;
    return std::fabs(got - want) <= atol + rtol * std::fabs(want);
}

static void expect(const std::string& line, const char* what, double got, double want, double rtol = 2e-6, double atol = 1e-30) {
    if (!close(got, want, rtol, atol)) {
        if (failures < 30) std::printf("FAIL %s: %s = %.9g, Java %.9g\n", line.c_str(), what, got, want);
        failures++;
    }
}

static void expect_bits(const std::string& line, const char* what, unsigned long long got, unsigned long long want) {
    if (got != want) {
        if (failures < 30) std::printf("FAIL %s: %s = %llu, Java %llu\n", line.c_str(), what, got, want);
        failures++;
    }
}

int main(int argc, char** argv) {
    const char* path = argc > 1 ? argv[1] : "cuda/host_tests/formulas.tsv";
    std::ifstream in(path);
    if (!in) {
        std::printf("host_tests: cannot read %s\n", path);
        return 2;
    }
    std::string line;
    int counts[16] = {0};
    const char* names[] = {"gelu", "gelu_grad", "silu", "swiglu_grad", "rng", "row_seed", "log_sigmoid", "bf16", "rope", "rms_rstd"};
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream s(line);
        std::string name;
        s >> name;
        std::vector<std::string> f;
        for (std::string t; s >> t;) f.push_back(t);
        auto F = [&](size_t i) { return std::strtod(f.at(i).c_str(), nullptr); };
        auto L = [&](size_t i) { return std::strtoll(f.at(i).c_str(), nullptr, 10); };
        cases++;
        try {
            if (name == "gelu") {  // x -> gelu(x)
                expect(line, "gelu", gelu_f((float)F(0)), F(1), 1e-5, 1e-37);
                counts[0]++;
            } else if (name == "gelu_grad") {  // x -> gelu'(x)
                expect(line, "gelu'", gelu_grad_f((float)F(0)), F(1), 1e-5, 1e-37);
                counts[1]++;
            } else if (name == "silu") {  // gate up -> silu(gate) * up
                expect(line, "swiglu", swiglu_f((float)F(0), (float)F(1)), F(2), 2e-6, 1e-30);
                counts[2]++;
            } else if (name == "swiglu_grad") {  // gate up dout -> dgate dup
                float dg, du;
                swiglu_grad_f((float)F(0), (float)F(1), (float)F(2), dg, du);
                expect(line, "dgate", dg, F(3), 4e-6, 1e-30);
                expect(line, "dup", du, F(4), 2e-6, 1e-30);
                counts[3]++;
            } else if (name == "rng") {  // seed counter -> bits uniform
                long long seed = L(0), ctr = L(1);
                expect_bits(line, "bits", counter_bits(seed, ctr), (unsigned long long)L(2));
                float u = counter_uniform(seed, ctr), want = (float)F(3);
                unsigned int ub, wb;
                std::memcpy(&ub, &u, 4);
                std::memcpy(&wb, &want, 4);
                expect_bits(line, "uniform", ub, wb);
                counts[4]++;
            } else if (name == "row_seed") {  // seed row -> rowSeed
                expect_bits(line, "rowSeed", (unsigned long long)counter_row_seed(L(0), L(1)), (unsigned long long)L(2));
                counts[5]++;
            } else if (name == "log_sigmoid") {  // x -> log sigma(x) sigma(x), double
                expect(line, "log_sigmoid", log_sigmoid(F(0)), F(1), 1e-14, 1e-300);
                expect(line, "sigmoid", sigmoid(F(0)), F(2), 1e-14, 1e-300);
                counts[6]++;
            } else if (name == "bf16") {  // x -> bf16 bits (as an int)
                expect_bits(line, "bf16", bf16_bits_rn((float)F(0)), (unsigned long long)L(1));
                expect(line, "bf16 value", bf16_to_float(bf16_bits_rn((float)F(0))), F(2), 0, 0);
                counts[7]++;
            } else if (name == "rope") {  // x1 x2 cos sin -> y1 y2 (and back: the inverse gives x back)
                float a = (float)F(0), b = (float)F(1), c = (float)F(2), sn = (float)F(3);
                rope_rotate_f(a, b, c, sn);
                expect(line, "y1", a, F(4), 2e-6, 1e-6);
                expect(line, "y2", b, F(5), 2e-6, 1e-6);
                float d1 = (float)F(6), d2 = (float)F(7);
                rope_rotate_back_f(d1, d2, c, sn);
                expect(line, "dx1", d1, F(8), 2e-6, 1e-6);
                expect(line, "dx2", d2, F(9), 2e-6, 1e-6);
                counts[8]++;
            } else if (name == "rms_rstd") {  // sumsq n eps -> rstd
                expect(line, "rstd", rms_rstd_f((float)F(0), (int)L(1), (float)F(2)), F(3), 2e-6, 0);
                counts[9]++;
            } else {
                std::printf("host_tests: unknown case %s\n", name.c_str());
                failures++;
            }
        } catch (const std::exception& e) {
            std::printf("host_tests: bad line %s (%s)\n", line.c_str(), e.what());
            failures++;
        }
    }
    std::printf("host_tests: %d cases from %s:", cases, path);
    for (int i = 0; i < 10; i++) std::printf(" %s %d", names[i], counts[i]);
    std::printf("\n");
    if (cases == 0) return 2;
    if (failures) {
        std::printf("host_tests: %d FAIL\n", failures);
        return 1;
    }
    std::printf("host_tests: all pass\n");
    return 0;
}
