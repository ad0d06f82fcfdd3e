//! Where this program's own code lies in memory, as the dynamic loader reports it.

/// The address ranges of this program's own executable code (not its libraries').
///
/// Read from the dynamic loader (`dl_iterate_phdr`), which lists the main program first with
/// the address it was loaded at: no file name is involved, so a path with spaces, a symlink, or
/// an executable replaced or deleted on disk while the program runs all give the right ranges.
pub fn executable_code() -> Vec<std::ops::Range<usize>> {
    unsafe extern "C" fn first_object(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: `data` is the `&mut Vec` passed below, alive and unaliased during the call;
        // `info` and its `dlpi_phnum` program headers are valid for the callback's duration.
        let (ranges, info) = unsafe { (&mut *data.cast::<Vec<std::ops::Range<usize>>>(), &*info) };
        for i in 0..usize::from(info.dlpi_phnum) {
            // SAFETY: `i` is below `dlpi_phnum`, so the header is inside the loader's array.
            let header = unsafe { &*info.dlpi_phdr.add(i) };
            if header.p_type == libc::PT_LOAD && header.p_flags & libc::PF_X != 0 {
                let start = (info.dlpi_addr as usize).wrapping_add(header.p_vaddr as usize);
                ranges.push(start..start + header.p_memsz as usize);
            }
        }
        1 // the main program is the first object reported: stop here
    }
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
    // SAFETY: the callback only touches `ranges` (through `data`) and the loader's own records;
    // `ranges` outlives the call, which returns only after the last callback.
    unsafe {
        libc::dl_iterate_phdr(
            Some(first_object),
            (&mut ranges as *mut Vec<std::ops::Range<usize>>).cast(),
        )
    };
    ranges
}
