/*
 * stdio.c — the reads and writes glibc's FILE streams make.
 *
 * fwrite, fputs, fprintf, putc, fread, fgets, getc... reach read(2) and
 * write(2) inside glibc, through the jump tables of its streams: a
 * stream's buffer is filled by _IO_file_read and flushed by
 * _IO_file_write (also for a large fwrite that bypasses the buffer). No
 * wrapper sees those calls: `as` and `ld` write their objects this way.
 *
 * So at attach, in a counting session, every pointer to those two
 * functions in libc's RELRO (the stream jump tables: 14 entries in glibc
 * 2.36) is replaced by a pointer to a function here that calls the
 * original and counts the call as the read or write it is, with its
 * bytes. The same function runs with the same arguments and result:
 * buffering, fileno(), the stream's state and errno are untouched, and a
 * program that never flushes a stream costs nothing. One stdio flush that
 * needs several write(2) calls (a partial write to a pipe) counts as one.
 * Where the pointers cannot be found or the pages cannot be made writable,
 * nothing is changed and stdio stays unseen, as before.
 */
#define _GNU_SOURCE
#include <link.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/types.h>

#include "rawsys.h"
#include "shim.h"

typedef ssize_t (*file_write_fn)(FILE *, const void *, ssize_t);
typedef ssize_t (*file_read_fn)(FILE *, void *, ssize_t);

static file_write_fn vr_file_write;
static file_read_fn vr_file_read;

/* _IO_new_file_write: writes all n bytes (looping over partial writes)
 * or returns fewer after an error (errno set). */
static ssize_t counting_file_write(FILE *fp, const void *data, ssize_t n)
{
    uint64_t ctl = vr_control();
    if (!VR_MODE(ctl))
        return vr_file_write(fp, data, n);
    uint64_t t0 = vr_start_op(ctl, VRIFT_OP_WRITE);
    ssize_t r = vr_file_write(fp, data, n);
    int failed = r < n;
    vr_record(VRIFT_OP_WRITE, ctl, t0, failed, failed ? errno : 0);
    if (r > 0)
        vr_add_misc(ctl, VRIFT_MISC_BYTES_WRITTEN, (uint64_t)r);
    return r;
}

/* _IO_file_read: one read(2). */
static ssize_t counting_file_read(FILE *fp, void *buf, ssize_t n)
{
    uint64_t ctl = vr_control();
    if (!VR_MODE(ctl))
        return vr_file_read(fp, buf, n);
    uint64_t t0 = vr_start_op(ctl, VRIFT_OP_READ);
    ssize_t r = vr_file_read(fp, buf, n);
    vr_record(VRIFT_OP_READ, ctl, t0, r < 0, r < 0 ? errno : 0);
    if (r > 0)
        vr_add_misc(ctl, VRIFT_MISC_BYTES_READ, (uint64_t)r);
    return r;
}

#define PAGE 4096ul
#define PAGE_DOWN(a) ((a) & ~(PAGE - 1))

static int is_target(void *p)
{
    return p == (void *)vr_file_write || p == (void *)vr_file_read;
}

/* Replace the pointers in [lo, hi), the RELRO of libc. The loader made
 * [PAGE_DOWN(lo), PAGE_DOWN(hi)) read-only (glibc's _dl_protect_relro):
 * the pages holding the pointers (the jump tables sit together, 2 pages
 * in glibc 2.36) are made writable for the moment, with one mprotect
 * each way (~4 us each in a fresh process; per page it would double). */
static void patch_relro(uintptr_t lo, uintptr_t hi)
{
    void **first = NULL, **last = NULL;
    for (void **q = (void **)((lo + sizeof(void *) - 1) & ~(sizeof(void *) - 1)); (uintptr_t)(q + 1) <= hi; q++)
        if (is_target(*q)) {
            if (!first)
                first = q;
            last = q;
        }
    if (!first)
        return;
    uintptr_t from = PAGE_DOWN((uintptr_t)first), to = PAGE_DOWN((uintptr_t)last) + PAGE;
    uintptr_t ro_to = to < PAGE_DOWN(hi) ? to : PAGE_DOWN(hi);
    int ro = from < ro_to;
    if (ro && SYS3(SYS_mprotect, from, ro_to - from, PROT_READ | PROT_WRITE) != 0)
        return;
    for (void **q = first; q <= last; q++) {
        if (*q == (void *)vr_file_write)
            *q = (void *)counting_file_write;
        else if (*q == (void *)vr_file_read)
            *q = (void *)counting_file_read;
    }
    if (ro)
        SYS3(SYS_mprotect, from, ro_to - from, PROT_READ);
}

static int find_relro(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    uintptr_t target = (uintptr_t)vr_file_write;
    int mine = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && target >= lo && target < lo + ph->p_memsz)
            mine = 1;
    }
    if (!mine)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_GNU_RELRO)
            patch_relro(info->dlpi_addr + ph->p_vaddr, info->dlpi_addr + ph->p_vaddr + ph->p_memsz);
    }
    return 1;
}

/* glibc exports both (for old binaries); the loader resolves these
 * references when it relocates the shim, so finding them costs nothing
 * here (a dlsym costs ~5 us in a fresh process). Weak: a libc without
 * them leaves stdio unseen. */
extern ssize_t _IO_file_write(FILE *, const void *, ssize_t) __attribute__((weak));
extern ssize_t _IO_file_read(FILE *, void *, ssize_t) __attribute__((weak));

void vr_stdio_init(void)
{
    vr_file_write = _IO_file_write;
    vr_file_read = _IO_file_read;
    if (!vr_file_write || !vr_file_read)
        return;
    dl_iterate_phdr(find_relro, NULL);
}
