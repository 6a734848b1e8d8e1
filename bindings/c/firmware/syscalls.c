/* The C library's system calls for the negsync firmware test, over Arm semihosting (the debugger,
 * here QEMU with -semihosting-config enable=on, carries them out): stdout/stderr, exit with a
 * status, the command line. And _sbrk: the heap grows from the end of .bss up to the stack. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "board.h"

enum {
    SYS_OPEN = 0x01,
    SYS_WRITE = 0x05,
    SYS_GET_CMDLINE = 0x15,
    SYS_EXIT = 0x18,
    SYS_EXIT_EXTENDED = 0x20,
    ADP_STOPPED_APPLICATION_EXIT = 0x20026,
    ADP_STOPPED_RUNTIME_ERROR = 0x20023,
};

extern char __heap_start[], __heap_limit[];

/* Declared here: newlib declares no prototypes for its system call layer. */
void _exit(int status);
void *_sbrk(ptrdiff_t increment);
int _write(int fd, const char *buf, size_t len);
int _read(int fd, char *buf, size_t len);
int _close(int fd);
int _lseek(int fd, int offset, int whence);
int _fstat(int fd, struct stat *st);
int _isatty(int fd);
int _kill(int pid, int sig);
int _getpid(void);
int semihosting_args(char ***argv);

static int semihost(int operation, void *argument)
{
    register int r0 __asm__("r0") = operation;
    register void *r1 __asm__("r1") = argument;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void _exit(int status)
{
    if (status == 0) {
        semihost(SYS_EXIT, (void *)(uintptr_t)ADP_STOPPED_APPLICATION_EXIT);
    }
    /* SYS_EXIT_EXTENDED carries the status; a host without it gets a plain failure (exit 1). */
    uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    semihost(SYS_EXIT_EXTENDED, block);
    semihost(SYS_EXIT, (void *)(uintptr_t)ADP_STOPPED_RUNTIME_ERROR);
    for (;;) {
    }
}

void *_sbrk(ptrdiff_t increment)
{
    static char *top = __heap_start;
    if (increment > __heap_limit - top || increment < __heap_start - top) {
        errno = ENOMEM;
        return (void *)-1;
    }
    char *previous = top;
    top += increment;
    return previous;
}

/* The host's stdout and stderr, opened as the special file ":tt" (mode 4: write, 8: append). */
static int console(int fd)
{
    static int handles[2] = {-1, -1};
    int *handle = &handles[fd == 2];
    if (*handle < 0) {
        uint32_t block[3] = {(uint32_t)(uintptr_t) ":tt", fd == 2 ? 8 : 4, 3};
        *handle = semihost(SYS_OPEN, block);
    }
    return *handle;
}

int _write(int fd, const char *buf, size_t len)
{
    if (fd != 1 && fd != 2) {
        errno = EBADF;
        return -1;
    }
    uint32_t block[3] = {(uint32_t)console(fd), (uint32_t)(uintptr_t)buf, (uint32_t)len};
    int unwritten = semihost(SYS_WRITE, block);
    return (int)len - unwritten;
}

int _read(int fd, char *buf, size_t len)
{
    (void)fd, (void)buf, (void)len;
    return 0;
}

int _close(int fd)
{
    (void)fd;
    return -1;
}

int _lseek(int fd, int offset, int whence)
{
    (void)fd, (void)offset, (void)whence;
    return 0;
}

int _fstat(int fd, struct stat *st)
{
    (void)fd;
    memset(st, 0, sizeof *st);
    st->st_mode = S_IFCHR;
    return 0;
}

int _isatty(int fd)
{
    (void)fd;
    return 1;
}

int _kill(int pid, int sig)
{
    (void)pid, (void)sig;
    errno = EINVAL;
    return -1;
}

int _getpid(void)
{
    return 1;
}

/* Splits the debugger's command line (QEMU: the -semihosting-config arg=... values) into words,
 * in static storage. Returns argc; argv[argc] is NULL. */
int semihosting_args(char ***argv)
{
    static char line[160];
    static char *words[12];
    uint32_t block[2] = {(uint32_t)(uintptr_t)line, sizeof line - 1};
    if (semihost(SYS_GET_CMDLINE, block) == 0) {
        line[block[1] < sizeof line ? block[1] : sizeof line - 1] = '\0';
    } else {
        line[0] = '\0';
    }
    *argv = words;
    return board_split_words(line, words, (int)(sizeof words / sizeof *words));
}
