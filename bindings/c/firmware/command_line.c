/* The debugger's command line split into words: shared by the Arm and RISC-V boards, which
 * only fetch the line differently (semihosting SYS_GET_CMDLINE, by hand or through picolibc). */
#include "board.h"

int board_split_words(char *line, char **words, int capacity)
{
    int argc = 0;
    for (char *p = line; *p && argc < capacity - 1;) {
        while (*p == ' ') {
            *p++ = '\0';
        }
        if (*p) {
            words[argc++] = p;
            while (*p && *p != ' ') {
                ++p;
            }
        }
    }
    words[argc] = NULL;
    return argc;
}
