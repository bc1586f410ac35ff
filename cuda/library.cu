// library.cu - library-level exports: version, status strings, the per-thread status word
// used by the synchronising validators, and p4j_check_ints (range check of an int32 buffer).
#include "common.cuh"
#include <climits>

namespace p4j {

static constexpr int kMaxDevices = 64;
static thread_local StatusWord tl_words[kMaxDevices];

int status_word(StatusWord** out) {
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) return check(e);
    if (dev < 0 || dev >= kMaxDevices) return P4J_E_UNSUPPORTED;
    StatusWord& w = tl_words[dev];
    if (w.dev == nullptr) {
        e = cudaMalloc(&w.dev, sizeof(int));
        if (e != cudaSuccess) return check(e);
        e = cudaMallocHost(&w.host, sizeof(int));
        if (e != cudaSuccess) { cudaFree(w.dev); w.dev = nullptr; return check(e); }
    }
    *out = &w;
    return 0;
}

int status_reset(StatusWord* w, cudaStream_t stream) {
    return check(cudaMemsetAsync(w->dev, 0, sizeof(int), stream));
}

int status_fetch(StatusWord* w, cudaStream_t stream) {
    cudaError_t e = cudaMemcpyAsync(w->host, w->dev, sizeof(int), cudaMemcpyDeviceToHost, stream);
    if (e != cudaSuccess) return check(e);
    e = cudaStreamSynchronize(stream);
    if (e != cudaSuccess) return check(e);
    return *w->host;
}

// status[0] = P4J_E_OUT_OF_RANGE if any x[i] outside [lo, hi).
__global__ void check_ints_kernel(const int* __restrict__ x, long long n, int lo, int hi, int* status) {
    bool bad = false;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        int v = x[i];
        bad |= (v < lo || v >= hi);
    }
    if (__any_sync(0xffffffffu, bad) && (threadIdx.x & 31) == 0) atomicExch(status, P4J_E_OUT_OF_RANGE);
}

}  // namespace p4j

using namespace p4j;

P4J_API int p4j_version(void) { return 10000; }

P4J_API int p4j_abi_version(void) { return P4J_ABI_VERSION; }

P4J_API const char* p4j_status_string(int status) {
    switch (status) {
        case P4J_OK: return "ok";
        case P4J_E_INVALID_ARGUMENT: return "pref4j: invalid argument";
        case P4J_E_OUT_OF_RANGE: return "pref4j: an index in a device buffer is out of range";
        case P4J_E_GROUP_TOO_SMALL: return "pref4j: rloo needs at least 2 responses per prompt group";
        case P4J_E_UNSUPPORTED: return "pref4j: unsupported shape";
        default: break;
    }
    if (status > 0) return cudaGetErrorString(static_cast<cudaError_t>(status));
    return "pref4j: unknown status";
}

P4J_API int p4j_check_ints(const void* x, long long n, int lo, int hi, void* stream) {
    if (n < 0 || (n > 0 && x == nullptr)) return P4J_E_INVALID_ARGUMENT;
    if (n == 0) return 0;
    StatusWord* w;
    int st = status_word(&w);
    if (st) return st;
    cudaStream_t s = as_stream(stream);
    if ((st = status_reset(w, s))) return st;
    check_ints_kernel<<<grid_for(n, 256, 1024), 256, 0, s>>>(static_cast<const int*>(x), n, lo, hi, w->dev);
    if ((st = launch_status())) return st;
    return status_fetch(w, s);
}

// ------------------------------------------------------------------ runtime wrappers

P4J_API int p4j_device_count(int* count) {
    if (!count) return P4J_E_INVALID_ARGUMENT;
    *count = 0;
    return check(cudaGetDeviceCount(count));
}

P4J_API int p4j_set_device(int device) { return check(cudaSetDevice(device)); }

P4J_API int p4j_device_info(int device, char* buf, int len, int* cc) {
    if (!buf || len <= 0) return P4J_E_INVALID_ARGUMENT;
    cudaDeviceProp prop;
    cudaError_t e = cudaGetDeviceProperties(&prop, device);
    if (e != cudaSuccess) return check(e);
    int i = 0;
    for (; i < len - 1 && prop.name[i]; i++) buf[i] = prop.name[i];
    buf[i] = 0;
    if (cc) *cc = prop.major * 10 + prop.minor;
    return 0;
}

P4J_API int p4j_mem_get_info(long long* free_bytes, long long* total_bytes) {
    if (!free_bytes || !total_bytes) return P4J_E_INVALID_ARGUMENT;
    size_t f = 0, t = 0;
    cudaError_t e = cudaMemGetInfo(&f, &t);
    *free_bytes = (long long)f;
    *total_bytes = (long long)t;
    return check(e);
}

P4J_API int p4j_malloc(void** ptr, long long bytes) {
    if (!ptr || bytes < 0) return P4J_E_INVALID_ARGUMENT;
    *ptr = nullptr;
    if (bytes == 0) return 0;
    return check(cudaMalloc(ptr, (size_t)bytes));
}

P4J_API int p4j_free(void* ptr) { return ptr ? check(cudaFree(ptr)) : 0; }

P4J_API int p4j_malloc_host(void** ptr, long long bytes) {
    if (!ptr || bytes < 0) return P4J_E_INVALID_ARGUMENT;
    *ptr = nullptr;
    if (bytes == 0) return 0;
    return check(cudaMallocHost(ptr, (size_t)bytes));
}

P4J_API int p4j_free_host(void* ptr) { return ptr ? check(cudaFreeHost(ptr)) : 0; }

P4J_API int p4j_memcpy_async(void* dst, const void* src, long long bytes, void* stream) {
    if (bytes < 0 || (bytes > 0 && (!dst || !src))) return P4J_E_INVALID_ARGUMENT;
    if (bytes == 0) return 0;
    return check(cudaMemcpyAsync(dst, src, (size_t)bytes, cudaMemcpyDefault, as_stream(stream)));
}

P4J_API int p4j_memset_async(void* ptr, int value, long long bytes, void* stream) {
    if (bytes < 0 || (bytes > 0 && !ptr)) return P4J_E_INVALID_ARGUMENT;
    if (bytes == 0) return 0;
    return check(cudaMemsetAsync(ptr, value, (size_t)bytes, as_stream(stream)));
}

P4J_API int p4j_stream_create(void** stream) {
    if (!stream) return P4J_E_INVALID_ARGUMENT;
    cudaStream_t s = nullptr;
    cudaError_t e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    *stream = s;
    return check(e);
}

P4J_API int p4j_stream_destroy(void* stream) { return stream ? check(cudaStreamDestroy(as_stream(stream))) : 0; }

P4J_API int p4j_stream_synchronize(void* stream) { return check(cudaStreamSynchronize(as_stream(stream))); }

P4J_API int p4j_device_synchronize(void) { return check(cudaDeviceSynchronize()); }

P4J_API int p4j_get_last_error(void) { return check(cudaGetLastError()); }
