//! Just enough of a BTF reader to find struct member offsets and tracepoint prototypes in
//! the running kernel's type information (/sys/kernel/btf/vmlinux).
//!
//! aya parses BTF too, but keeps member layouts private; the format is small and stable
//! (Documentation/bpf/btf.rst), so reading the few things the probe needs is simpler than
//! depending on aya internals that change between releases.

use std::collections::HashMap;

use anyhow::{Context, Result, bail};

const MAGIC: u16 = 0xeb9f;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

struct Type {
    name_off: u32,
    kind: u32,
    kind_flag: bool,
    /// Size, or the referenced type id, depending on the kind.
    size_or_type: u32,
    /// Offset of the kind-specific data that follows the common header.
    extra: usize,
    vlen: usize,
}

pub struct Btf {
    data: Vec<u8>,
    strings: usize,
    strings_len: usize,
    /// Indexed by type id; id 0 is `void` and has no entry of its own.
    types: Vec<Type>,
    by_name: HashMap<String, Vec<u32>>,
}

impl Btf {
    pub fn parse(data: Vec<u8>) -> Result<Self> {
        let u16_at = |off: usize| -> Result<u16> {
            Ok(u16::from_le_bytes(
                data.get(off..off + 2)
                    .context("BTF header truncated")?
                    .try_into()?,
            ))
        };
        let u32_at = |off: usize| -> Result<u32> {
            Ok(u32::from_le_bytes(
                data.get(off..off + 4)
                    .context("BTF header truncated")?
                    .try_into()?,
            ))
        };
        if u16_at(0)? != MAGIC {
            bail!("not little-endian BTF (bad magic)");
        }
        let hdr_len = u32_at(4)? as usize;
        let type_off = hdr_len + u32_at(8)? as usize;
        let type_len = u32_at(12)? as usize;
        let strings = hdr_len + u32_at(16)? as usize;
        let strings_len = u32_at(20)? as usize;
        if type_off + type_len > data.len() || strings + strings_len > data.len() {
            bail!("BTF sections run past the end of the data");
        }

        let mut types = vec![Type {
            name_off: 0,
            kind: 0,
            kind_flag: false,
            size_or_type: 0,
            extra: 0,
            vlen: 0,
        }];
        let mut pos = type_off;
        let end = type_off + type_len;
        while pos < end {
            let name_off = u32_at(pos)?;
            let info = u32_at(pos + 4)?;
            let size_or_type = u32_at(pos + 8)?;
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            let extra = pos + 12;
            let extra_len = match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
                KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
                KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
                | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
                other => bail!("unknown BTF kind {other} at offset {pos}"),
            };
            types.push(Type {
                name_off,
                kind,
                kind_flag: info >> 31 == 1,
                size_or_type,
                extra,
                vlen,
            });
            pos = extra + extra_len;
        }

        let mut btf = Self {
            data,
            strings,
            strings_len,
            types,
            by_name: HashMap::new(),
        };
        for id in 1..btf.types.len() as u32 {
            let name = btf.name(btf.types[id as usize].name_off);
            if !name.is_empty() {
                btf.by_name.entry(name.to_owned()).or_default().push(id);
            }
        }
        Ok(btf)
    }

    pub fn from_sys_fs() -> Result<Self> {
        const PATH: &str = "/sys/kernel/btf/vmlinux";
        let data = std::fs::read(PATH)
            .with_context(|| format!("kernel type information {PATH} is not readable (a kernel built with CONFIG_DEBUG_INFO_BTF is needed)"))?;
        Self::parse(data).with_context(|| format!("cannot parse {PATH}"))
    }

    fn u32_at(&self, off: usize) -> u32 {
        u32::from_le_bytes(self.data[off..off + 4].try_into().expect("4 bytes"))
    }

    fn name(&self, off: u32) -> &str {
        let start = self.strings + off as usize;
        let limit = self.strings + self.strings_len;
        if start >= limit {
            return "";
        }
        let bytes = &self.data[start..limit];
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        std::str::from_utf8(&bytes[..len]).unwrap_or("")
    }

    fn find(&self, name: &str, kind: u32) -> Option<u32> {
        self.by_name
            .get(name)?
            .iter()
            .copied()
            .find(|&id| self.types[id as usize].kind == kind)
    }

    /// Follows typedefs and qualifiers to the type they name.
    fn resolve(&self, mut id: u32) -> u32 {
        while let Some(t) = self.types.get(id as usize) {
            match t.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.size_or_type
                }
                _ => break,
            }
        }
        id
    }

    /// The type id of the kernel function `name`: what a kfunc call names.
    pub fn function_id(&self, name: &str) -> Result<u32> {
        self.find(name, KIND_FUNC)
            .with_context(|| format!("this kernel has no function {name} in its BTF"))
    }

    /// `sizeof(struct strukt)`.
    pub fn struct_size(&self, strukt: &str) -> Result<u32> {
        let id = self
            .find(strukt, KIND_STRUCT)
            .with_context(|| format!("struct {strukt} is not in the kernel's BTF"))?;
        Ok(self.types[id as usize].size_or_type)
    }

    /// Byte offset of `member` in `struct strukt`, looking inside anonymous structs and
    /// unions as C does.
    pub fn member_offset(&self, strukt: &str, member: &str) -> Result<u32> {
        let id = self
            .find(strukt, KIND_STRUCT)
            .with_context(|| format!("struct {strukt} is not in the kernel's BTF"))?;
        self.member_bits(id, member)
            .map(|bits| bits / 8)
            .with_context(|| format!("struct {strukt} has no member {member} in this kernel"))
    }

    fn member_bits(&self, id: u32, member: &str) -> Option<u32> {
        let t = &self.types[id as usize];
        for i in 0..t.vlen {
            let m = t.extra + 12 * i;
            let name_off = self.u32_at(m);
            let type_id = self.u32_at(m + 4);
            let raw = self.u32_at(m + 8);
            let bits = if t.kind_flag { raw & 0x00ff_ffff } else { raw };
            let name = self.name(name_off);
            if name == member {
                return Some(bits);
            }
            if name.is_empty() {
                let inner = self.resolve(type_id);
                if matches!(self.types[inner as usize].kind, KIND_STRUCT | KIND_UNION)
                    && let Some(found) = self.member_bits(inner, member)
                {
                    return Some(bits + found);
                }
            }
        }
        None
    }

    /// Names of the parameter types of the raw tracepoint `name` (without the leading
    /// `void *` context), e.g. `["task_struct *", "_Bool"]` for sched_process_exit.
    pub fn tracepoint_params(&self, name: &str) -> Result<Vec<String>> {
        let typedef = format!("btf_trace_{name}");
        let id = self
            .find(&typedef, KIND_TYPEDEF)
            .with_context(|| format!("tracepoint {name} is not in the kernel's BTF"))?;
        let ptr = self.resolve(id);
        let proto = self.resolve(self.types[ptr as usize].size_or_type);
        let t = &self.types[proto as usize];
        if t.kind != KIND_FUNC_PROTO {
            bail!("{typedef} is not a function pointer");
        }
        Ok((1..t.vlen)
            .map(|i| self.type_name(self.u32_at(t.extra + 8 * i + 4)))
            .collect())
    }

    fn type_name(&self, id: u32) -> String {
        let id = self.resolve(id);
        let t = &self.types[id as usize];
        match t.kind {
            KIND_PTR => format!("{} *", self.type_name(t.size_or_type)),
            0 => "void".to_owned(),
            _ => self.name(t.name_off).to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a BTF blob from (name, info, size_or_type, extra words) entries.
    fn blob(strings: &[&str], types: &[(u32, u32, u32, Vec<u32>)]) -> Vec<u8> {
        let mut strtab = vec![0u8];
        for s in strings {
            strtab.extend_from_slice(s.as_bytes());
            strtab.push(0);
        }
        let mut tys = Vec::new();
        for (name, info, sot, extra) in types {
            for w in [*name, *info, *sot].iter().chain(extra) {
                tys.extend_from_slice(&w.to_le_bytes());
            }
        }
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for w in [
            24u32,
            0,
            tys.len() as u32,
            tys.len() as u32,
            strtab.len() as u32,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&tys);
        out.extend_from_slice(&strtab);
        out
    }

    #[test]
    fn finds_members_inside_anonymous_structs() {
        // strings: 1 "int", 5 "outer", 11 "a", 13 "b"
        let info = |kind: u32, vlen: u32| (kind << 24) | vlen;
        let data = blob(
            &["int", "outer", "a", "b"],
            &[
                (1, info(KIND_INT, 0), 4, vec![32]),
                // id 2: anonymous struct { int b @ 32 bits }
                (0, info(KIND_STRUCT, 1), 8, vec![13, 1, 32]),
                // id 3: struct outer { int a @ 0; <anon> @ 64 bits }
                (5, info(KIND_STRUCT, 2), 16, vec![11, 1, 0, 0, 2, 64]),
            ],
        );
        let btf = Btf::parse(data).unwrap();
        assert_eq!(btf.member_offset("outer", "a").unwrap(), 0);
        assert_eq!(btf.member_offset("outer", "b").unwrap(), 12);
        assert!(btf.member_offset("outer", "c").is_err());
        assert!(btf.member_offset("inner", "a").is_err());
    }

    #[test]
    fn rejects_garbage() {
        assert!(Btf::parse(vec![0; 8]).is_err());
        assert!(Btf::parse(vec![0x9f, 0xeb, 1, 0, 24, 0, 0, 0]).is_err());
    }

    #[test]
    fn reads_the_running_kernel() {
        let btf = Btf::from_sys_fs().expect("this project's machines have kernel BTF");
        let pid = btf.member_offset("task_struct", "pid").unwrap();
        let tgid = btf.member_offset("task_struct", "tgid").unwrap();
        assert_eq!(tgid, pid + 4, "tgid follows pid in task_struct");
        btf.member_offset("mm_struct", "arg_start").unwrap();
        assert_eq!(btf.struct_size("upid").unwrap(), 16, "an int and a pointer");
        assert_eq!(
            btf.tracepoint_params("sched_process_exit").unwrap(),
            ["task_struct *", "_Bool"]
        );
    }
}
