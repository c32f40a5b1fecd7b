// Memory units, defined once: integer KiB everywhere, pages of the guest kernel's size.
export { PAGE_KIB } from '../policy/pages.ts';

/** KiB in a MiB. */
export const MIB = 1024;
