/* Startup for the negsync firmware test on Cortex-M0/M3/M4: the vector table, the reset handler
 * (.data copied from flash, .bss zeroed, the FPU switched on for a hard-float build, the stack
 * painted so its high-water mark can be measured), a fault handler that reports over
 * semihosting, and main(argc, argv) with the command line the debugger (QEMU) passes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[], __stack_bottom[], __heap_start[], __heap_limit[];
extern char __negsync_text_start[], __negsync_text_end[];
extern char __negsync_rodata_start[], __negsync_rodata_end[];

typedef void (*init_fn)(void);
extern init_fn __preinit_array_start[], __preinit_array_end[];
extern init_fn __init_array_start[], __init_array_end[];

extern int main(int argc, char **argv);
/* syscalls.c: the command line from the debugger, split into words. */
extern int semihosting_args(char ***argv);

void Reset_Handler(void);
void Fault_Handler(void);
void Default_Handler(void);

#define STACK_PAINT 0xA5A5A5A5u

/* Cortex-M vector table: initial stack pointer, then the exception handlers. */
__attribute__((section(".isr_vector"), used)) static const uintptr_t vectors[16] = {
    (uintptr_t)__stack_top,
    (uintptr_t)Reset_Handler,
    (uintptr_t)Default_Handler, /* NMI */
    (uintptr_t)Fault_Handler,   /* HardFault */
    (uintptr_t)Fault_Handler,   /* MemManage */
    (uintptr_t)Fault_Handler,   /* BusFault */
    (uintptr_t)Fault_Handler,   /* UsageFault */
    0, 0, 0, 0,
    (uintptr_t)Default_Handler, /* SVCall */
    (uintptr_t)Default_Handler, /* DebugMonitor */
    0,
    (uintptr_t)Default_Handler, /* PendSV */
    (uintptr_t)Default_Handler, /* SysTick */
};

static uintptr_t current_sp(void)
{
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

void Reset_Handler(void)
{
#if defined(__ARM_FP)
    /* CPACR: full access to CP10 and CP11 (the FPU), before any floating-point instruction. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start; dst < __bss_end;) {
        *dst++ = 0;
    }
    /* Paint the free stack below this frame; board_stack_peak() finds how far it got used. */
    for (volatile uint32_t *p = __stack_bottom; (uintptr_t)p < current_sp() - 64; ++p) {
        *p = STACK_PAINT;
    }
    /* Static constructors (none in C; kept for a C++ or Rust object that brings some). */
    for (init_fn *f = __preinit_array_start; f < __preinit_array_end; ++f) {
        (*f)();
    }
    for (init_fn *f = __init_array_start; f < __init_array_end; ++f) {
        (*f)();
    }
    char **argv;
    int argc = semihosting_args(&argv);
    exit(main(argc, argv));
}

/* Called by the C library's exit() through __libc_fini_array: nothing to undo here. */
void _fini(void);
void _fini(void)
{
}

size_t board_stack_peak(void)
{
    const uint32_t *p = __stack_bottom;
    while (p < __stack_top && *p == STACK_PAINT) {
        ++p;
    }
    return (size_t)((uintptr_t)__stack_top - (uintptr_t)p);
}

size_t board_stack_size(void)
{
    return (size_t)((uintptr_t)__stack_top - (uintptr_t)__stack_bottom);
}

size_t board_heap_size(void)
{
    return (size_t)((uintptr_t)__heap_limit - (uintptr_t)__heap_start);
}

size_t board_rust_text(void)
{
    return (size_t)(__negsync_text_end - __negsync_text_start);
}

size_t board_rust_rodata(void)
{
    return (size_t)(__negsync_rodata_end - __negsync_rodata_start);
}

/* Reports a fault with the registers that say why, and exits with status 4. */
void fault_report(const uint32_t *frame);
void fault_report(const uint32_t *frame)
{
#if defined(__ARM_ARCH_6M__)
    /* ARMv6-M has no fault status registers: the stacked pc and lr say where. */
    printf("FAULT: pc=0x%08lx lr=0x%08lx\n", (unsigned long)frame[6], (unsigned long)frame[5]);
#else
    volatile const uint32_t *scb = (volatile const uint32_t *)0xE000ED28u;
    printf("FAULT: pc=0x%08lx lr=0x%08lx CFSR=0x%08lx HFSR=0x%08lx BFAR=0x%08lx\n",
           (unsigned long)frame[6], (unsigned long)frame[5], (unsigned long)scb[0],
           (unsigned long)scb[1], (unsigned long)scb[4]);
#endif
    fflush(stdout);
    _Exit(4);
}

/* Finds the stacked registers (main or process stack) and hands them to fault_report. */
__attribute__((naked)) void Fault_Handler(void)
{
#if defined(__ARM_ARCH_6M__) /* no IT blocks, no conditional mrs */
    __asm__ volatile("movs r0, #4\n\t"
                     "mov r1, lr\n\t"
                     "tst r0, r1\n\t"
                     "mrs r0, msp\n\t"
                     "beq 1f\n\t"
                     "mrs r0, psp\n"
                     "1:\n\t"
                     "ldr r1, =fault_report\n\t"
                     "bx r1\n\t");
#else
    __asm__ volatile("tst lr, #4\n\t"
                     "ite eq\n\t"
                     "mrseq r0, msp\n\t"
                     "mrsne r0, psp\n\t"
                     "b fault_report\n\t");
#endif
}

void Default_Handler(void)
{
    printf("FAULT: unexpected exception\n");
    fflush(stdout);
    _Exit(4);
}
