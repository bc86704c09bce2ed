/*
 * The kernel suite's guest responder: a multiboot image that a q35 TCG
 * domain boots instead of an operating system (libvirt <os><kernel>), and
 * that does the one thing of a guest OS a live hot-unplug needs: it releases
 * the slot QEMU asks it to release. Without it nothing answers an unplug
 * request and libvirt's detach times out with the device still in the guest.
 *
 * QEMU asks in one of two ways, and the responder answers both:
 *   - ACPI PCI hotplug (q35's default since QEMU 6.1, root ports included):
 *     the pending removals of each hotplug bus are a bit per slot in the
 *     DOWN register of the I/O block at 0xcc0 once the bus is selected (SEL);
 *     writing those bits to EJ is what the guest's _EJ0 method does.
 *   - native PCIe hotplug: the slot's Attention Button Pressed bit in a root
 *     or downstream port's Slot Status; the guest turns the slot's power
 *     and power indicator off in Slot Control, as Linux's pciehp does after
 *     its five seconds (here at once).
 * It wakes 100 times a second from the PIT (hlt in between, so an idle
 * domain costs little) and writes one character to COM1 per answer (A for
 * ACPI, N for native), which the domain's serial log keeps.
 *
 * Built by tests/kernel/prepare.sh: gcc -m32 -ffreestanding -nostdlib, linked
 * with responder.ld at 1 MiB as a 32-bit ELF, which QEMU's multiboot loader
 * takes. No libc, no headers.
 */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

#define MB_MAGIC 0x1BADB002u
#define MB_FLAGS 0u

__attribute__((section(".multiboot"), used, aligned(4))) static const u32 multiboot_header[3] = {
    MB_MAGIC, MB_FLAGS, (u32)(0u - MB_MAGIC - MB_FLAGS)};

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) {
    u8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline u16 inw(u16 port) {
    u16 v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline u32 inl(u16 port) {
    u32 v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* ---------------------------------------------------------------- serial */
#define COM1 0x3f8
static void serial_init(void) {
    outb(COM1 + 1, 0x00); /* no interrupts */
    outb(COM1 + 3, 0x80); /* DLAB */
    outb(COM1 + 0, 0x01); /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
}
static void putc_serial(char c) {
    for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++) {
    }
    outb(COM1, (u8)c);
}
static void puts_serial(const char* s) {
    while (*s) putc_serial(*s++);
}

/* ------------------------------------------------- PCI configuration space */
static u32 cfg_addr(u32 bus, u32 dev, u32 fn, u32 off) {
    return 0x80000000u | (bus << 16) | (dev << 11) | (fn << 8) | (off & 0xfc);
}
static u8 cfg_read8(u32 b, u32 d, u32 f, u32 off) {
    outl(0xcf8, cfg_addr(b, d, f, off));
    return inb((u16)(0xcfc + (off & 3)));
}
static u16 cfg_read16(u32 b, u32 d, u32 f, u32 off) {
    outl(0xcf8, cfg_addr(b, d, f, off));
    return inw((u16)(0xcfc + (off & 2)));
}
static void cfg_write16(u32 b, u32 d, u32 f, u32 off, u16 v) {
    outl(0xcf8, cfg_addr(b, d, f, off));
    outw((u16)(0xcfc + (off & 2)), v);
}

/* ------------------------------------------------------ ACPI PCI hotplug */
#define PCIHP_BASE 0x0cc0 /* ICH9 (q35) */
#define PCIHP_DOWN (PCIHP_BASE + 0x04)
#define PCIHP_EJ (PCIHP_BASE + 0x08)
#define PCIHP_SEL (PCIHP_BASE + 0x10)
#define PCIHP_BUSES 256

static void answer_acpi(void) {
    for (u32 sel = 0; sel < PCIHP_BUSES; sel++) {
        outl(PCIHP_SEL, sel);
        u32 down = inl(PCIHP_DOWN);
        if (down == 0 || down == 0xffffffffu) continue;
        outl(PCIHP_SEL, sel);
        outl(PCIHP_EJ, down);
        putc_serial('A');
    }
}

/* ------------------------------------------------------ native PCIe hotplug */
#define CAP_PCIE 0x10
#define SLTCTL 0x18
#define SLTSTA 0x1a
#define SLTSTA_ABP 0x0001u
#define SLTSTA_PDS 0x0040u
#define SLTCTL_PIC_MASK 0x0300u
#define SLTCTL_PIC_OFF 0x0300u
#define SLTCTL_PCC 0x0400u

/* The PCIe capability of a port with a slot, or 0. */
static u32 slot_cap(u32 b, u32 d, u32 f) {
    if (cfg_read16(b, d, f, 0x00) == 0xffff) return 0;
    if (!(cfg_read16(b, d, f, 0x06) & 0x10)) return 0; /* no capability list */
    u32 p = cfg_read8(b, d, f, 0x34) & 0xfc;
    for (int n = 0; p && n < 48; n++) {
        if (cfg_read8(b, d, f, p) == CAP_PCIE) {
            u16 flags = cfg_read16(b, d, f, p + 2);
            u16 type = (u16)((flags >> 4) & 0xf);
            if ((type == 4 || type == 6) && (flags & 0x0100)) return p; /* root or downstream port, slot */
            return 0;
        }
        p = cfg_read8(b, d, f, p + 1) & 0xfc;
    }
    return 0;
}

/* Ports sit on bus 0 of a q35 guest (pcie-root-port); the buses behind
 * them are scanned too, for switches' downstream ports. */
static void answer_native(void) {
    for (u32 b = 0; b < 16; b++) {
        for (u32 d = 0; d < 32; d++) {
            for (u32 f = 0; f < 8; f++) {
                if (cfg_read16(b, d, f, 0x00) == 0xffff) {
                    if (f == 0) break;
                    continue;
                }
                u32 cap = slot_cap(b, d, f);
                if (cap) {
                    u16 sta = cfg_read16(b, d, f, cap + SLTSTA);
                    if ((sta & SLTSTA_ABP) && (sta & SLTSTA_PDS)) {
                        cfg_write16(b, d, f, cap + SLTSTA, SLTSTA_ABP); /* RW1C */
                        u16 ctl = cfg_read16(b, d, f, cap + SLTCTL);
                        ctl = (u16)((ctl & ~SLTCTL_PIC_MASK) | SLTCTL_PIC_OFF | SLTCTL_PCC);
                        cfg_write16(b, d, f, cap + SLTCTL, ctl);
                        putc_serial('N');
                    }
                }
                if (f == 0 && !(cfg_read8(b, d, f, 0x0e) & 0x80)) break; /* single function */
            }
        }
    }
}

/* ------------------------------------------- GDT, IDT, PIC and PIT: hlt */
struct gdt_entry {
    u16 limit_lo, base_lo;
    u8 base_mid, access, gran, base_hi;
} __attribute__((packed));
struct idt_entry {
    u16 off_lo, sel;
    u8 zero, type;
    u16 off_hi;
} __attribute__((packed));
struct table_ptr {
    u16 limit;
    u32 base;
} __attribute__((packed));

static struct gdt_entry gdt[3] = {
    {0, 0, 0, 0, 0, 0},
    {0xffff, 0, 0, 0x9a, 0xcf, 0}, /* 0x08: flat code */
    {0xffff, 0, 0, 0x92, 0xcf, 0}, /* 0x10: flat data */
};
static struct idt_entry idt[256];

/* Every interrupt: end it at the master PIC and return. Only IRQ 0 (the PIT)
 * is unmasked; exceptions do not happen in this code. */
extern void isr_stub(void);
__asm__(".globl isr_stub\n"
        "isr_stub:\n"
        "  push %eax\n"
        "  mov $0x20, %al\n"
        "  out %al, $0x20\n"
        "  pop %eax\n"
        "  iret\n");

static void tables_init(void) {
    struct table_ptr g = {sizeof gdt - 1, (u32)gdt};
    __asm__ volatile(
        "lgdt %0\n"
        "ljmp $0x08, $1f\n"
        "1:\n"
        "mov $0x10, %%ax\n"
        "mov %%ax, %%ds\n"
        "mov %%ax, %%es\n"
        "mov %%ax, %%ss\n"
        "mov %%ax, %%fs\n"
        "mov %%ax, %%gs\n"
        :
        : "m"(g)
        : "eax", "memory");
    u32 h = (u32)isr_stub;
    for (int i = 0; i < 256; i++) {
        idt[i].off_lo = (u16)(h & 0xffff);
        idt[i].sel = 0x08;
        idt[i].zero = 0;
        idt[i].type = 0x8e; /* present, 32-bit interrupt gate */
        idt[i].off_hi = (u16)(h >> 16);
    }
    struct table_ptr t = {sizeof idt - 1, (u32)idt};
    __asm__ volatile("lidt %0" : : "m"(t) : "memory");
}

static void pic_pit_init(void) {
    /* PICs: vectors 0x20 and 0x28, cascaded, 8086 mode; all but IRQ 0 masked. */
    outb(0x20, 0x11);
    outb(0xa0, 0x11);
    outb(0x21, 0x20);
    outb(0xa1, 0x28);
    outb(0x21, 0x04);
    outb(0xa1, 0x02);
    outb(0x21, 0x01);
    outb(0xa1, 0x01);
    outb(0x21, 0xfe);
    outb(0xa1, 0xff);
    /* PIT channel 0, rate generator, 100 Hz. */
    const u32 divisor = 1193182u / 100u;
    outb(0x43, 0x34);
    outb(0x40, (u8)(divisor & 0xff));
    outb(0x40, (u8)(divisor >> 8));
}

void responder_main(void) {
    serial_init();
    tables_init();
    pic_pit_init();
    puts_serial("hostdev guest responder: answering hot-unplug requests\n");
    for (;;) {
        answer_acpi();
        answer_native();
        __asm__ volatile("sti; hlt; cli");
    }
}

unsigned char stack[8192] __attribute__((aligned(16), used));

__asm__(".globl _start\n"
        "_start:\n"
        "  cli\n"
        "  mov $stack_top, %esp\n"
        "  call responder_main\n"
        "1: hlt\n"
        "  jmp 1b\n");
__asm__(".set stack_top, stack + 8192\n");
