/* Board support for the negsync firmware test on RISC-V (QEMU's `virt` machine, riscv32), with
 * picolibc: its crt0 (`--crt0=semihost`: startup, the command line from the debugger, a trap
 * handler that reports over semihosting), its linker script (picolibc.ld; the memory regions and
 * the stack size come from --defsym on the link line in run.sh) and its semihosting stdio and
 * exit (`--oslib=semihost`). What is left for this file: painting the stack before main so
 * its high-water mark can be measured, the figures board.h asks for, and the command line. */
#include <semihost.h>
#include <stdint.h>

#include "board.h"

extern char __stack[], __heap_start[], __heap_end[];

#define STACK_PAINT 0xA5A5A5A5u

/* Runs from crt0 before main: paints the free stack below this frame. */
__attribute__((constructor)) static void paint_stack(void)
{
    char here;
    for (volatile uint32_t *p = (uint32_t *)(void *)__heap_end; (uintptr_t)p < (uintptr_t)&here - 64;
         ++p) {
        *p = STACK_PAINT;
    }
}

size_t board_stack_peak(void)
{
    const uint32_t *p = (const uint32_t *)(void *)__heap_end;
    while ((uintptr_t)p < (uintptr_t)__stack && *p == STACK_PAINT) {
        ++p;
    }
    return (size_t)((uintptr_t)__stack - (uintptr_t)p);
}

size_t board_stack_size(void)
{
    return (size_t)((uintptr_t)__stack - (uintptr_t)__heap_end);
}

size_t board_heap_size(void)
{
    return (size_t)((uintptr_t)__heap_end - (uintptr_t)__heap_start);
}

/* picolibc.ld does not set the Rust code apart: not measured on this board (0). */
size_t board_rust_text(void)
{
    return 0;
}

size_t board_rust_rodata(void)
{
    return 0;
}

/* The command line from the debugger (QEMU: the -semihosting-config arg=... values), split into
 * words in static storage: picolibc's crt0 hands main none. Returns argc; argv[argc] is NULL. */
int board_command_line(char ***argv)
{
    static char line[160];
    static char *words[12];
    if (sys_semihost_get_cmdline(line, (int)sizeof line) == 0) {
        line[sizeof line - 1] = '\0';
    } else {
        line[0] = '\0';
    }
    *argv = words;
    return board_split_words(line, words, (int)(sizeof words / sizeof *words));
}
