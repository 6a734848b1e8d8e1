/* What the board support (startup.c, syscalls.c) gives the negsync firmware test (main.c). */
#ifndef NEGSYNC_FIRMWARE_BOARD_H
#define NEGSYNC_FIRMWARE_BOARD_H

#include <stddef.h>

/* Bytes of stack in use at the deepest point since reset (the stack is painted before main). */
size_t board_stack_peak(void);
/* STACK_SIZE from the board's linker script. */
size_t board_stack_size(void);
/* Bytes the heap may grow to: from the end of .bss to the bottom of the stack. */
size_t board_heap_size(void);
/* Bytes of .text and .rodata linked from libnegsync.a (all the Rust code in the image). */
size_t board_rust_text(void);
size_t board_rust_rodata(void);
/* Splits `line` in place at spaces into at most `capacity - 1` words, then a NULL; returns how
 * many (command_line.c). */
int board_split_words(char *line, char **words, int capacity);
#ifdef __PICOLIBC__
/* The command line from the debugger (picolibc's crt0 passes main none). */
int board_command_line(char ***argv);
#endif

#endif
