/**
 * libbpf 1.x (Debian's libbpf1) through koffi: the only place that calls into libbpf. libbpf.so.1 is
 * loaded on first use, so importing this module works on hosts without it. Every
 * failure becomes one AgentcgroupError line: libbpf's own explanation of the error number (it has
 * codes above 4000 that strerror does not know) plus the last lines libbpf logged during that call.
 * libbpf's log goes to a small in-memory buffer, never to stderr: hook and CLI output stay clean.
 */
import koffi, { type LibraryHandle, type TypeObject } from 'koffi';
import { AgentcgroupError } from '../errors.js';
import { Batch, type Budget, type Drained } from './batch.js';

type Handle<K extends string> = bigint & { readonly __libbpf: K };
export type BpfObject = Handle<'bpf_object'>;
export type BpfMap = Handle<'bpf_map'>;
export type BpfLink = Handle<'bpf_link'>;
type BpfProgram = Handle<'bpf_program'>;
type RingBufferPtr = Handle<'ring_buffer'>;

/** BPF_RINGBUF_HDR_SZ: the header before each ring buffer record. */
const RINGBUF_HDR_SZ = 8;
const LIBBPF_INFO = 1; // enum libbpf_print_level: WARN 0, INFO 1, DEBUG 2
const EPERM = 1;
const ENOENT = 2;

type Fn<A extends unknown[], R> = (...args: A) => R;

interface Libbpf {
  openFile: Fn<[path: string, opts: null], BpfObject | null>;
  load: Fn<[obj: BpfObject], number>;
  close: Fn<[obj: BpfObject], void>;
  findProgram: Fn<[obj: BpfObject, name: string], BpfProgram | null>;
  findMap: Fn<[obj: BpfObject, name: string], BpfMap | null>;
  attach: Fn<[prog: BpfProgram], BpfLink | null>;
  destroyLink: Fn<[link: BpfLink], number>;
  mapFd: Fn<[map: BpfMap], number>;
  update: Fn<[map: BpfMap, key: Buffer, keySize: number, value: Buffer, valueSize: number, flags: number], number>;
  delete: Fn<[map: BpfMap, key: Buffer, keySize: number, flags: number], number>;
  lookup: Fn<[map: BpfMap, key: Buffer, keySize: number, value: Buffer, valueSize: number, flags: number], number>;
  possibleCpus: Fn<[], number>;
  ringNew: Fn<[mapFd: number, sample: bigint, ctx: null, opts: null], RingBufferPtr | null>;
  ringConsume: Fn<[rb: RingBufferPtr], number>;
  ringEpollFd: Fn<[rb: RingBufferPtr], number>;
  ringFree: Fn<[rb: RingBufferPtr], void>;
  strerror: Fn<[err: number, buf: Buffer, size: number], number>;
  sampleFn: TypeObject;
  // struct_ops (the sched_ext scheduler, src/bpf/sched.ts)
  setMapFlags: Fn<[map: BpfMap, flags: number], number>;
  setProgramFlags: Fn<[prog: BpfProgram, flags: number], number>;
  attachStructOps: Fn<[map: BpfMap], BpfLink | null>;
  disconnectLink: Fn<[link: BpfLink], void>;
  linkCreate: Fn<[progFd: number, targetFd: number, attachType: number, opts: null], number>;
}

// Bound once, and a failure is kept: koffi type names cannot be declared twice.
let bound: Libbpf | AgentcgroupError | undefined;

function libbpf(): Libbpf {
  if (bound === undefined) {
    try {
      bound = bind(koffi.load('libbpf.so.1'), koffi.load('libc.so.6'));
    } catch (err) {
      bound = new AgentcgroupError('libbpf-missing', `cannot load libbpf: ${(err as Error).message} (install the Debian package libbpf1)`, { cause: err });
    }
  }
  if (bound instanceof AgentcgroupError) throw bound;
  return bound;
}

function bind(so: LibraryHandle, libc: LibraryHandle): Libbpf {
  for (const name of ['bpf_object', 'bpf_program', 'bpf_map', 'bpf_link', 'ring_buffer']) koffi.opaque(name);
  const f = (decl: string) => so.func(decl);

  // libbpf formats its messages itself only when it prints to stderr; a custom printer gets the
  // format and a va_list. On x86_64 a va_list parameter is a pointer, which vasprintf takes as is.
  const vasprintf = libc.func('int vasprintf(_Out_ void **out, void *fmt, void *ap)');
  const free = libc.func('void free(void *ptr)');
  const printFn = koffi.proto('int agentcg_libbpf_print(int level, void *fmt, void *ap)');
  const print = (level: number, fmt: bigint, ap: bigint): number => {
    if (level > LIBBPF_INFO) return 0; // debug chatter: not even formatted
    try {
      const out: [bigint | null] = [null];
      if (vasprintf(out, fmt, ap) >= 0 && out[0] !== null) {
        try {
          log.add(koffi.decode.string(out[0]));
        } finally {
          free(out[0]);
        }
      }
    } catch {
      // A log line is never worth an exception thrown through libbpf's C frames.
    }
    return 0;
  };
  // Registered for the life of the process: libbpf keeps the printer in a global.
  f('void *libbpf_set_print(agentcg_libbpf_print *fn)')(koffi.register(print, koffi.pointer(printFn)));

  return {
    openFile: f('bpf_object *bpf_object__open_file(const char *path, void *opts)'),
    load: f('int bpf_object__load(bpf_object *obj)'),
    close: f('void bpf_object__close(bpf_object *obj)'),
    findProgram: f('bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)'),
    findMap: f('bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)'),
    attach: f('bpf_link *bpf_program__attach(bpf_program *prog)'),
    destroyLink: f('int bpf_link__destroy(bpf_link *link)'),
    mapFd: f('int bpf_map__fd(bpf_map *map)'),
    update: f('int bpf_map__update_elem(bpf_map *map, void *key, size_t key_sz, void *value, size_t value_sz, uint64_t flags)'),
    delete: f('int bpf_map__delete_elem(bpf_map *map, void *key, size_t key_sz, uint64_t flags)'),
    lookup: f('int bpf_map__lookup_elem(bpf_map *map, void *key, size_t key_sz, _Inout_ void *value, size_t value_sz, uint64_t flags)'),
    possibleCpus: f('int libbpf_num_possible_cpus()'),
    ringNew: f('ring_buffer *ring_buffer__new(int map_fd, void *sample_cb, void *ctx, void *opts)'),
    ringConsume: f('int ring_buffer__consume(ring_buffer *rb)'),
    ringEpollFd: f('int ring_buffer__epoll_fd(ring_buffer *rb)'),
    ringFree: f('void ring_buffer__free(ring_buffer *rb)'),
    strerror: f('int libbpf_strerror(int err, _Out_ void *buf, size_t size)'),
    sampleFn: koffi.proto('int agentcg_ring_buffer_sample(void *ctx, void *data, size_t size)'),
    setMapFlags: f('int bpf_map__set_map_flags(bpf_map *map, uint32_t flags)'),
    setProgramFlags: f('int bpf_program__set_flags(bpf_program *prog, uint32_t flags)'),
    attachStructOps: f('bpf_link *bpf_map__attach_struct_ops(bpf_map *map)'),
    disconnectLink: f('void bpf_link__disconnect(bpf_link *link)'),
    linkCreate: f('int bpf_link_create(int prog_fd, int target_fd, int attach_type, void *opts)'),
  };
}

// Verifier log framing and statistics: they would push the reason for a rejection out of the tail.
const LOG_NOISE = /^(prog '[^']*': )?-- (BEGIN|END) PROG LOAD LOG --$|^processed \d+ insns/;

/** The last lines libbpf logged (warnings and info; a verifier log arrives as one multi-line message). */
const log = {
  lines: [] as string[],
  count: 0,
  add(text: string): void {
    for (const line of text.split('\n')) {
      const trimmed = line.trim().replace(/^libbpf: /, '');
      if (trimmed === '' || LOG_NOISE.test(trimmed)) continue;
      this.lines.push(trimmed);
      this.count++;
    }
    this.lines.splice(0, this.lines.length - 40);
  },
  /** The last few lines logged since `mark` (a former `count`), as one line of bounded length. */
  since(mark: number, max = 4, chars = 600): string {
    const fresh = Math.min(this.count - mark, this.lines.length, max);
    const text = fresh > 0 ? this.lines.slice(-fresh).join(' | ') : '';
    return text.length > chars ? `…${text.slice(-chars)}` : text;
  },
};

/** libbpf's own words for an error number, e.g. 4003 "BPF object format invalid" (libbpf_strerror). */
function describe(err: number): string {
  const buf = Buffer.alloc(256);
  libbpf().strerror(err, buf, buf.length);
  const text = buf.toString('utf8', 0, buf.indexOf(0) < 0 ? buf.length : buf.indexOf(0));
  return err === EPERM ? `${text} (needs root: CAP_BPF and CAP_PERFMON)` : text;
}

function failure(code: string, what: string, err: number, mark: number): AgentcgroupError {
  const logged = log.since(mark);
  return new AgentcgroupError(code, `${what}: ${describe(err)}${logged ? ` [libbpf: ${logged}]` : ''}`);
}

/** Runs a pointer-returning libbpf call: NULL means failure, with the reason in errno. */
function pointer<T>(code: string, what: string, call: () => T | null): T {
  const mark = log.count;
  const result = call();
  if (result === null) throw failure(code, what, koffi.errno(), mark);
  return result;
}

/** Runs an int-returning libbpf call: a negative result is -errno. */
function status(code: string, what: string, call: () => number): number {
  const mark = log.count;
  const result = call();
  if (result < 0) throw failure(code, what, -result, mark);
  return result;
}

export function openObject(path: string): BpfObject {
  return pointer('bpf-open', `cannot open eBPF object ${path}`, () => libbpf().openFile(path, null));
}

/** Verifies and loads every program and creates the maps (CO-RE relocation happens here). */
export function loadObject(obj: BpfObject, path: string): void {
  status('bpf-load', `cannot load eBPF object ${path} into the kernel`, () => libbpf().load(obj));
}

export function closeObject(obj: BpfObject): void {
  libbpf().close(obj);
}

/** Attaches a program by its function name, as its SEC() says; the link keeps it attached. */
export function attachProgram(obj: BpfObject, name: string): BpfLink {
  const prog = pointer('bpf-attach', `eBPF program ${name} not in the object`, () => libbpf().findProgram(obj, name));
  return pointer('bpf-attach', `cannot attach eBPF program ${name}`, () => libbpf().attach(prog));
}

export function destroyLink(link: BpfLink): void {
  libbpf().destroyLink(link);
}

export function findMap(obj: BpfObject, name: string): BpfMap {
  return pointer('bpf-map', `eBPF map ${name} not in the object`, () => libbpf().findMap(obj, name));
}

export function mapUpdate(map: BpfMap, name: string, key: Buffer, value: Buffer): void {
  status('bpf-map', `cannot update eBPF map ${name}`, () => libbpf().update(map, key, key.length, value, value.length, 0));
}

/** Deletes a key; false when it was not there. */
export function mapDelete(map: BpfMap, name: string, key: Buffer): boolean {
  const mark = log.count;
  const result = libbpf().delete(map, key, key.length, 0);
  if (result === -ENOENT) return false;
  if (result < 0) throw failure('bpf-map', `cannot delete from eBPF map ${name}`, -result, mark);
  return true;
}

/** Reads a key's value into `value` (for per-CPU maps: one 8-byte-aligned slot per possible CPU). */
export function mapLookup(map: BpfMap, name: string, key: Buffer, value: Buffer): void {
  status('bpf-map', `cannot read eBPF map ${name}`, () => libbpf().lookup(map, key, key.length, value, value.length, 0));
}

/** BPF_F_LINK (map flag): a struct_ops map registered only through a link, and unregistered with it. */
export const BPF_F_LINK = 1 << 13;
/** BPF_F_SLEEPABLE (program flag). */
export const BPF_F_SLEEPABLE = 1 << 4;
/** enum bpf_attach_type BPF_STRUCT_OPS (kernel 6.4+: bpf_link_create on a struct_ops map). */
const BPF_STRUCT_OPS = 44;

/** Sets a map's creation flags; before loadObject() only. */
export function setMapFlags(map: BpfMap, name: string, flags: number): void {
  status('bpf-map', `cannot set the flags of eBPF map ${name}`, () => libbpf().setMapFlags(map, flags));
}

/** Sets a program's load flags (e.g. BPF_F_SLEEPABLE, which libbpf 1.1 has no section name for); before loadObject() only. */
export function setProgramFlags(obj: BpfObject, name: string, flags: number): void {
  const prog = pointer('bpf-prog', `eBPF program ${name} not in the object`, () => libbpf().findProgram(obj, name));
  status('bpf-prog', `cannot set the flags of eBPF program ${name}`, () => libbpf().setProgramFlags(prog, flags));
}

/** A loaded map's file descriptor (owned by the object: closed with it). */
export function mapFd(map: BpfMap, name: string): number {
  return status('bpf-map', `eBPF map ${name} has no file descriptor`, () => libbpf().mapFd(map));
}

/**
 * Registers a loaded struct_ops map created with BPF_F_LINK through a BPF link, and returns the link's
 * file descriptor: closing it (closeSync, or the process dying, SIGKILL included) unregisters.
 * libbpf 1.1 knows no struct_ops links: bpf_map__attach_struct_ops() stores the programs in the map
 * (with BPF_F_LINK the kernel then only validates and keeps the value), and bpf_link_create(map_fd,
 * 0, BPF_STRUCT_OPS) registers it. libbpf's own link object is only freed: its detach would delete
 * the map's value, which a BPF_F_LINK map refuses anyway, and its fd is the map's.
 */
export function attachStructOpsLink(map: BpfMap, name: string): number {
  const lib = libbpf();
  const fd = mapFd(map, name);
  const stored = pointer('bpf-attach', `cannot store the programs of struct_ops map ${name}`, () => lib.attachStructOps(map));
  lib.disconnectLink(stored);
  lib.destroyLink(stored);
  return status('bpf-attach', `cannot register struct_ops map ${name} through a link`, () => lib.linkCreate(fd, 0, BPF_STRUCT_OPS, null));
}

export function possibleCpus(): number {
  return status('bpf-cpus', 'cannot count possible CPUs', () => libbpf().possibleCpus());
}

/**
 * A ring buffer reader. Samples are handed over only inside consume(), on the calling thread, as a
 * Buffer over libbpf's memory that is valid only during the handler: copy what you keep.
 */
export class RingBuffer {
  #ptr: RingBufferPtr | undefined;
  #callback: bigint | undefined;
  #batch: Batch | undefined;

  private constructor(map: BpfMap, name: string) {
    const lib = libbpf();
    const mapFd = status('bpf-ringbuf', `eBPF map ${name} has no file descriptor`, () => lib.mapFd(map));
    this.#callback = koffi.register(this.#sample.bind(this), koffi.pointer(lib.sampleFn));
    try {
      const callback = this.#callback;
      this.#ptr = pointer('bpf-ringbuf', `cannot open ring buffer ${name}`, () => lib.ringNew(mapFd, callback, null, null));
    } catch (err) {
      this.free();
      throw err;
    }
  }

  static open(map: BpfMap, name: string): RingBuffer {
    return new RingBuffer(map, name);
  }

  /**
   * The most samples of `sampleBytes` a ring of `ringBytes` holds at once: the kernel puts an
   * 8-byte header before each and rounds the record up to 8 bytes, and refuses a reservation that
   * would take the producer more than ringBytes - 1 ahead of the consumer (__bpf_ringbuf_reserve:
   * `new_prod_pos - cons_pos > rb->mask`), so a ring is never filled to its last byte.
   */
  static capacity(ringBytes: number, sampleBytes: number): number {
    return Math.floor((ringBytes - 1) / (Math.ceil((sampleBytes + RINGBUF_HDR_SZ) / 8) * 8));
  }

  /** Readable (EPOLLIN) when samples are waiting; owned by the ring buffer, closed by free(). */
  get epollFd(): number {
    return libbpf().ringEpollFd(this.#live());
  }

  /**
   * Hands waiting samples to `handler`: all of them, or at most what `budget` allows (batch.ts says
   * how the pass stops without losing or repeating a sample). A handler that throws does not stop
   * the pass: the first error is rethrown at the end.
   */
  consume(handler: (data: Buffer) => void, budget?: Budget): Drained {
    const ptr = this.#live();
    if (this.#batch) throw new AgentcgroupError('bpf-ringbuf', 'ring buffer consume() called from its own handler');
    const batch = new Batch(handler, budget);
    this.#batch = batch;
    try {
      status('bpf-ringbuf', 'cannot read ring buffer', () => batch.settle(libbpf().ringConsume(ptr)));
    } finally {
      this.#batch = undefined;
    }
    return batch.result();
  }

  /** Frees the reader, then its callback slot: libbpf must never call a released trampoline. */
  free(): void {
    if (this.#ptr !== undefined) libbpf().ringFree(this.#ptr);
    this.#ptr = undefined;
    if (this.#callback !== undefined) koffi.unregister(this.#callback);
    this.#callback = undefined;
  }

  #live(): RingBufferPtr {
    if (this.#ptr === undefined) throw new AgentcgroupError('bpf-closed', 'ring buffer used after it was freed');
    return this.#ptr;
  }

  #sample(_ctx: unknown, data: bigint, size: number | bigint): number {
    // A callback outside consume() cannot happen (libbpf calls back only from ring_buffer__consume);
    // 0 lets libbpf go on rather than stop on a sample nobody could take.
    return this.#batch?.sample(Buffer.from(koffi.view(data, Number(size)))) ?? 0;
  }
}
