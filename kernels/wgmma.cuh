/* Hopper's warpgroup instructions as the warpgroup GEMM kernel (gemm_wgmma.cuh) uses them: the
 * mbarriers of its stage rings, a warpgroup-wide vote, the shared-memory descriptors of its two
 * activation layouts, and wgmma.m64nNk16 with A from registers (N 16 to 256), FP16 or BF16
 * operands, FP32 accumulators. Device code for sm_90a only (MX_WGMMA_DEVICE). */
#ifndef MX_WGMMA_CUH
#define MX_WGMMA_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>
#include <type_traits>

/* wgmma and the async proxy fence exist on sm_90a only; elsewhere the kernel traps (the host
 * never launches it there: gemm.cu, mx_wgmma_runs). */
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ == 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define MX_WGMMA_DEVICE 1
#endif

#ifdef MX_WGMMA_DEVICE

// ---- synchronization

__device__ __forceinline__ void mx_mbarrier_init(uint32_t barrier, uint32_t count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(barrier), "r"(count));
}

__device__ __forceinline__ void mx_mbarrier_arrive(uint32_t barrier) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(barrier) : "memory");
}

/* Until the phase of the given parity has completed (parity 1 on a fresh barrier: at once). */
__device__ __forceinline__ void mx_mbarrier_wait(uint32_t barrier, uint32_t parity) {
    asm volatile("{\n"
                 ".reg .pred done;\n"
                 "mx_wait:\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
                 "@!done bra mx_wait;\n"
                 "}\n" ::"r"(barrier),
                 "r"(parity)
                 : "memory");
}

/* The OR of `vote` over the 128 threads of a warpgroup, on named barrier `id` (1 + warpgroup). */
__device__ __forceinline__ bool mx_warpgroup_any(bool vote, int id) {
    uint32_t any;
    asm volatile("{\n"
                 ".reg .pred in, out;\n"
                 "setp.ne.u32 in, %1, 0;\n"
                 "bar.red.or.pred out, %2, 128, in;\n"
                 "selp.u32 %0, 1, 0, out;\n"
                 "}\n"
                 : "=r"(any)
                 : "r"((uint32_t)vote), "r"(id));
    return any != 0;
}

// ---- warpgroup MMA

/* Shared-memory descriptor of one k16 step of the stage, K-major. The start address is the low
 * field (address / 16, 14 bits): a descriptor plus bytes / 16 addresses bytes further on, while
 * the address stays below 256 KB (shared memory does). Swizzled (TMA): 128-byte swizzle (layout
 * type 1, bits 62-63), 8-row atoms 1024 bytes apart (SBO; LBO unused: 1); a k16 step is 32
 * bytes into the token rows, the swizzle applied by the hardware on the address bits (the atoms
 * start on 1024 bytes). Otherwise (stmatrix): no swizzle, core matrices 128 bytes apart along K
 * (LBO) and 256 bytes apart along the tokens (SBO). */
template <bool swizzled> __device__ __forceinline__ uint64_t mx_wgmma_descriptor(uint32_t address) {
    const uint64_t start = (address & 0x3FFFFu) >> 4;
    if constexpr (swizzled)
        return start | (uint64_t)1 << 16 | (uint64_t)(1024 >> 4) << 32 | (uint64_t)1 << 62;
    else
        return start | (uint64_t)(128 >> 4) << 16 | (uint64_t)(256 >> 4) << 32;
}

__device__ __forceinline__ void mx_wgmma_fence() {
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}

__device__ __forceinline__ void mx_wgmma_commit() {
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}

/* Waits until at most one commit group of the warpgroup's MMAs is in flight (they complete in
 * order). */
__device__ __forceinline__ void mx_wgmma_wait_one() {
    asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
}

/* Waits for every MMA of the warpgroup, then pins the accumulators after the wait (the compiler
 * sees no dependence of theirs on it). */
template <int rows> __device__ __forceinline__ void mx_wgmma_wait_all(float (&d)[rows][4]) {
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
#pragma unroll
    for (int j = 0; j < rows; j++)
#pragma unroll
        for (int c = 0; c < 4; c++) asm volatile("" : "+f"(d[j][c])::"memory");
}

/* The accumulator operands of groups o .. o + 1 (8 registers), and of 4, 8 and 16 groups. */
#define MX_WGMMA_D2(d, o)                                                                          \
    "+f"(d[o][0]), "+f"(d[o][1]), "+f"(d[o][2]), "+f"(d[o][3]), "+f"(d[o + 1][0]),                 \
        "+f"(d[o + 1][1]), "+f"(d[o + 1][2]), "+f"(d[o + 1][3])
#define MX_WGMMA_D4(d, o)  MX_WGMMA_D2(d, o), MX_WGMMA_D2(d, o + 2)
#define MX_WGMMA_D8(d, o)  MX_WGMMA_D4(d, o), MX_WGMMA_D4(d, o + 4)
#define MX_WGMMA_D16(d, o) MX_WGMMA_D8(d, o), MX_WGMMA_D8(d, o + 8)
#define MX_WGMMA_D32(d, o) MX_WGMMA_D16(d, o), MX_WGMMA_D16(d, o + 16)

/* Their names in the instruction: operands 0 .. 7, 15, 31, 63, 127. */
#define MX_WGMMA_D_LIST_8  "%0,%1,%2,%3,%4,%5,%6,%7"
#define MX_WGMMA_D_LIST_16 MX_WGMMA_D_LIST_8 ",%8,%9,%10,%11,%12,%13,%14,%15"
#define MX_WGMMA_D_LIST_32                                                                         \
    MX_WGMMA_D_LIST_16 ",%16,%17,%18,%19,%20,%21,%22,%23"                                          \
                       ",%24,%25,%26,%27,%28,%29,%30,%31"
#define MX_WGMMA_D_LIST_64                                                                         \
    MX_WGMMA_D_LIST_32 ",%32,%33,%34,%35,%36,%37,%38,%39"                                          \
                       ",%40,%41,%42,%43,%44,%45,%46,%47"                                          \
                       ",%48,%49,%50,%51,%52,%53,%54,%55"                                          \
                       ",%56,%57,%58,%59,%60,%61,%62,%63"
#define MX_WGMMA_D_LIST_128                                                                        \
    MX_WGMMA_D_LIST_64 ",%64,%65,%66,%67,%68,%69,%70,%71"                                          \
                       ",%72,%73,%74,%75,%76,%77,%78,%79"                                          \
                       ",%80,%81,%82,%83,%84,%85,%86,%87"                                          \
                       ",%88,%89,%90,%91,%92,%93,%94,%95"                                          \
                       ",%96,%97,%98,%99,%100,%101,%102,%103"                                      \
                       ",%104,%105,%106,%107,%108,%109,%110,%111"                                  \
                       ",%112,%113,%114,%115,%116,%117,%118,%119"                                  \
                       ",%120,%121,%122,%123,%124,%125,%126,%127"

/* wgmma.m64nNk16: the N / 2 accumulators, then A's 4 registers (A_LIST), the descriptor (B) and
 * scale_d (SCALE_D; 0 ignores D), as operand names. */
#define MX_WGMMA_ASM(N, TYPE, D_LIST, A_LIST, B, SCALE_D)                                          \
    "{\n.reg .pred p;\nsetp.ne.b32 p, " SCALE_D ", 0;\n"                                           \
    "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TYPE "." TYPE " {" D_LIST "}, {" A_LIST      \
    "}, " B ", p, 1, 1, 0;\n}\n"

/* D (+)= A . B for 64 weight rows x 8 * groups tokens x 16 K: A the lane's 4 registers of FP16x2
 * or BF16x2 pairs, B at the descriptor. */
template <typename T, int groups>
__device__ __forceinline__ void mx_wgmma(float (&d)[groups][4], const uint32_t (&a)[4], uint64_t b,
                                         int scale_d) {
    static_assert(groups == 2 || groups == 4 || groups == 8 || groups == 16 || groups == 32,
                  "N 16, 32, 64, 128, 256");
#define MX_WGMMA_CALL(N, TYPE, D_LIST, A_LIST, B, SCALE_D, ...)                                    \
    asm volatile(MX_WGMMA_ASM(N, TYPE, D_LIST, A_LIST, B, SCALE_D)                                 \
                 : __VA_ARGS__                                                                     \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(scale_d))
#define MX_WGMMA_TYPES(N, D_LIST, A_LIST, B, SCALE_D, ...)                                         \
    do {                                                                                           \
        if constexpr (std::is_same<T, __half>::value)                                              \
            MX_WGMMA_CALL(N, "f16", D_LIST, A_LIST, B, SCALE_D, __VA_ARGS__);                      \
        else                                                                                       \
            MX_WGMMA_CALL(N, "bf16", D_LIST, A_LIST, B, SCALE_D, __VA_ARGS__);                     \
    } while (0)
    if constexpr (groups == 2)
        MX_WGMMA_TYPES(16, MX_WGMMA_D_LIST_8, "%8,%9,%10,%11", "%12", "%13", MX_WGMMA_D2(d, 0));
    else if constexpr (groups == 4)
        MX_WGMMA_TYPES(32, MX_WGMMA_D_LIST_16, "%16,%17,%18,%19", "%20", "%21", MX_WGMMA_D4(d, 0));
    else if constexpr (groups == 8)
        MX_WGMMA_TYPES(64, MX_WGMMA_D_LIST_32, "%32,%33,%34,%35", "%36", "%37", MX_WGMMA_D8(d, 0));
    else if constexpr (groups == 16)
        MX_WGMMA_TYPES(128, MX_WGMMA_D_LIST_64, "%64,%65,%66,%67", "%68", "%69",
                       MX_WGMMA_D16(d, 0));
    else
        MX_WGMMA_TYPES(256, MX_WGMMA_D_LIST_128, "%128,%129,%130,%131", "%132", "%133",
                       MX_WGMMA_D32(d, 0));
#undef MX_WGMMA_TYPES
#undef MX_WGMMA_CALL
}

#endif /* MX_WGMMA_DEVICE */

#endif
