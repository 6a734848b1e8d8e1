/* The critical section negsync needs on a CPU without compare-and-swap (Cortex-M0/M0+:
 * thumbv6m-none-eabi; RISC-V without the A extension: riscv32imc-unknown-none-elf). negsync's set
 * lock and reference counts make each read-modify-write of one word inside one such section: a
 * few instructions with interrupts masked. Not needed (and not called) on Cortex-M3/M4/M7.
 *
 * These serve a single-core chip whose negsync calls run with interrupts enabled; copy them into
 * your firmware. On a multi-core chip without CAS (RP2040: two Cortex-M0+ cores) also take a
 * hardware spinlock here (the Pico SDK's spin_lock_blocking/spin_unlock do both). On RISC-V these
 * run in machine mode (mstatus); a supervisor-mode port uses sstatus.SIE instead. */
#include <stdint.h>

#include "negsync.h"

#if defined(__riscv)

uint32_t negsync_critical_section_enter(void)
{
    uint32_t mstatus;
    /* Clear MIE. (The .option lines let -march=rv32imc name the CSR instructions, which newer
     * binutils count as the separate Zicsr extension.) */
    __asm__ volatile(".option push\n\t.option arch, +zicsr\n\t"
                     "csrrci %0, mstatus, 8\n\t.option pop"
                     : "=r"(mstatus)
                     :
                     : "memory");
    return mstatus & 8u;
}

void negsync_critical_section_exit(uint32_t state)
{
    if (state & 8u) {
        __asm__ volatile(".option push\n\t.option arch, +zicsr\n\t"
                         "csrsi mstatus, 8\n\t.option pop" /* MIE back on, if it was */
                         :
                         :
                         : "memory");
    }
}

#elif defined(__arm__)

uint32_t negsync_critical_section_enter(void)
{
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask) : : "memory");
    return primask;
}

void negsync_critical_section_exit(uint32_t state)
{
    if ((state & 1u) == 0) {
        __asm__ volatile("cpsie i" : : : "memory"); /* interrupts were on before: on again */
    }
}

#else
#error "critical_section.c: write negsync_critical_section_enter/exit for this CPU"
#endif
