/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NVM Express wire format: controller registers, queue entries, Identify
 * data structures and status codes, as the NVMe Base Specification 2.0 and
 * the NVM Command Set Specification 1.0 define them.  Only what the driver
 * uses, plus neighbours that make the layout checkable.
 *
 * Everything here is little-endian on the wire; the daemon runs on
 * little-endian hosts only (x86-64, aarch64), which the static assert below
 * holds us to rather than sprinkling le*toh over every field.
 */
#ifndef VUS_NVME_NVME_SPEC_H
#define VUS_NVME_NVME_SPEC_H

#include <stddef.h>
#include <stdint.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "NVMe structures are little-endian");

/* Controller registers (BAR0), Base spec 3.1.4. */
#define NVME_REG_CAP   0x00 /* 64 bit */
#define NVME_REG_VS    0x08
#define NVME_REG_INTMS 0x0c
#define NVME_REG_INTMC 0x10
#define NVME_REG_CC    0x14
#define NVME_REG_CSTS  0x1c
#define NVME_REG_NSSR  0x20
#define NVME_REG_AQA   0x24
#define NVME_REG_ASQ   0x28 /* 64 bit */
#define NVME_REG_ACQ   0x30 /* 64 bit */
#define NVME_REG_DBS   0x1000

/* Doorbell of queue qid: SQ tail (cq = 0) or CQ head (cq = 1). */
static inline size_t nvme_doorbell_offset(uint16_t qid, int cq, unsigned dstrd)
{
    return NVME_REG_DBS + (2 * (size_t)qid + (cq ? 1 : 0)) * ((size_t)4 << dstrd);
}

/* CAP fields. */
#define NVME_CAP_MQES(cap)   ((uint32_t)((cap)&0xffff)) /* 0's based */
#define NVME_CAP_CQR(cap)    ((unsigned)(((cap) >> 16) & 1))
#define NVME_CAP_TO(cap)     ((unsigned)(((cap) >> 24) & 0xff)) /* 500 ms units */
#define NVME_CAP_DSTRD(cap)  ((unsigned)(((cap) >> 32) & 0xf))
#define NVME_CAP_CSS(cap)    ((unsigned)(((cap) >> 37) & 0xff))
#define NVME_CAP_MPSMIN(cap) ((unsigned)(((cap) >> 48) & 0xf)) /* 2^(12 + x) bytes */
#define NVME_CAP_MPSMAX(cap) ((unsigned)(((cap) >> 52) & 0xf))
#define NVME_CAP_CSS_NVM     0x01 /* bit 37: NVM command set */
#define NVME_CAP_CSS_IOCS    0x40 /* bit 43: one or more I/O command sets */
#define NVME_CAP_CSS_NOIO    0x80 /* bit 44: admin only */
#define NVME_CAP_TO_UNIT_MS  500u

/* VS. */
#define NVME_VS(mjr, mnr, ter) (((uint32_t)(mjr) << 16) | ((uint32_t)(mnr) << 8) | (uint32_t)(ter))

/* CC fields. */
#define NVME_CC_EN           (1u << 0)
#define NVME_CC_CSS_SHIFT    4
#define NVME_CC_CSS_NVM      (0u << NVME_CC_CSS_SHIFT)
#define NVME_CC_CSS_CSI      (6u << NVME_CC_CSS_SHIFT) /* all supported I/O command sets */
#define NVME_CC_CSS_ADMIN    (7u << NVME_CC_CSS_SHIFT)
#define NVME_CC_MPS_SHIFT    7 /* 4 bits: page = 2^(12 + MPS) */
#define NVME_CC_AMS_SHIFT    11
#define NVME_CC_SHN_SHIFT    14
#define NVME_CC_SHN_MASK     (3u << NVME_CC_SHN_SHIFT)
#define NVME_CC_SHN_NORMAL   (1u << NVME_CC_SHN_SHIFT)
#define NVME_CC_SHN_ABRUPT   (2u << NVME_CC_SHN_SHIFT)
#define NVME_CC_IOSQES_SHIFT 16
#define NVME_CC_IOCQES_SHIFT 20
#define NVME_CC_MPS(cc)      (((cc) >> NVME_CC_MPS_SHIFT) & 0xf)
#define NVME_CC_IOSQES(cc)   (((cc) >> NVME_CC_IOSQES_SHIFT) & 0xf)
#define NVME_CC_IOCQES(cc)   (((cc) >> NVME_CC_IOCQES_SHIFT) & 0xf)
#define NVME_CC_CSS(cc)      (((cc) >> NVME_CC_CSS_SHIFT) & 0x7)

/* CSTS fields. */
#define NVME_CSTS_RDY           (1u << 0)
#define NVME_CSTS_CFS           (1u << 1)
#define NVME_CSTS_SHST_SHIFT    2
#define NVME_CSTS_SHST_MASK     (3u << NVME_CSTS_SHST_SHIFT)
#define NVME_CSTS_SHST_NORMAL   (0u << NVME_CSTS_SHST_SHIFT)
#define NVME_CSTS_SHST_OCCURING (1u << NVME_CSTS_SHST_SHIFT)
#define NVME_CSTS_SHST_COMPLETE (2u << NVME_CSTS_SHST_SHIFT)
#define NVME_CSTS_NSSRO         (1u << 4)
#define NVME_CSTS_PP            (1u << 5)

/* AQA: both sizes 0's based, 12 bits. */
#define NVME_AQA(sq_entries, cq_entries)                                                           \
    ((((uint32_t)(cq_entries)-1) << 16) | ((uint32_t)(sq_entries)-1))
#define NVME_AQ_MAX_ENTRIES 4096

/* Submission queue entry, 64 bytes (Base spec 4.2). */
struct nvme_sqe {
    uint8_t opc;
    uint8_t flags; /* bits 1:0 FUSE, bits 7:6 PSDT (00: PRPs) */
    uint16_t cid;
    uint32_t nsid;
    uint32_t cdw2;
    uint32_t cdw3;
    uint64_t mptr;
    uint64_t prp1;
    uint64_t prp2;
    uint32_t cdw10;
    uint32_t cdw11;
    uint32_t cdw12;
    uint32_t cdw13;
    uint32_t cdw14;
    uint32_t cdw15;
};
_Static_assert(sizeof(struct nvme_sqe) == 64, "SQE is 64 bytes");
_Static_assert(offsetof(struct nvme_sqe, cid) == 2, "CID in CDW0 bits 31:16");
_Static_assert(offsetof(struct nvme_sqe, prp1) == 24, "DPTR at byte 24");
_Static_assert(offsetof(struct nvme_sqe, cdw10) == 40, "CDW10 at byte 40");
#define NVME_SQES_LOG2 6

/* Completion queue entry, 16 bytes (Base spec 4.6). */
struct nvme_cpl {
    uint32_t dw0;
    uint32_t dw1;
    uint16_t sqhd;
    uint16_t sqid;
    uint16_t cid;
    uint16_t status; /* bit 0 phase tag, bits 15:1 status field */
};
_Static_assert(sizeof(struct nvme_cpl) == 16, "CQE is 16 bytes");
_Static_assert(offsetof(struct nvme_cpl, cid) == 12, "CID in DW3 bits 15:0");
#define NVME_CQES_LOG2 4

/*
 * Status field (CQE DW3 bits 31:17, i.e. nvme_cpl.status >> 1):
 * bits 7:0 SC, 10:8 SCT, 12:11 CRD, 13 M (more), 14 DNR (do not retry).
 */
#define NVME_CPL_PHASE          1u
#define NVME_CPL_SF(cpl_status) ((uint16_t)((cpl_status) >> 1))
#define NVME_SF(sct, sc)        ((uint16_t)(((sct)&7u) << 8 | ((sc)&0xffu)))
#define NVME_SF_SC(sf)          ((uint8_t)((sf)&0xff))
#define NVME_SF_SCT(sf)         ((uint8_t)(((sf) >> 8) & 7))
#define NVME_SF_DNR             (1u << 14)
#define NVME_SF_MORE            (1u << 13)
#define NVME_SF_CODE(sf)        ((uint16_t)((sf)&0x7ff)) /* SCT and SC only */
#define NVME_SQE_FUSE_MASK      0x03
#define NVME_SQE_PSDT_MASK      0xc0
#define NVME_SQE_PSDT_PRP       0x00

/* Status code types. */
#define NVME_SCT_GENERIC 0
#define NVME_SCT_CMD     1
#define NVME_SCT_MEDIA   2
#define NVME_SCT_PATH    3
#define NVME_SCT_VENDOR  7

/* Generic command status (SCT 0). */
#define NVME_SC_SUCCESS               0x00
#define NVME_SC_INVALID_OPCODE        0x01
#define NVME_SC_INVALID_FIELD         0x02
#define NVME_SC_CID_CONFLICT          0x03
#define NVME_SC_DATA_XFER_ERROR       0x04
#define NVME_SC_POWER_LOSS_ABORT      0x05
#define NVME_SC_INTERNAL              0x06
#define NVME_SC_ABORT_REQUESTED       0x07
#define NVME_SC_ABORT_SQ_DELETION     0x08
#define NVME_SC_ABORT_FUSED_FAIL      0x09
#define NVME_SC_ABORT_FUSED_MISSING   0x0a
#define NVME_SC_INVALID_NS_OR_FORMAT  0x0b
#define NVME_SC_CMD_SEQ_ERROR         0x0c
#define NVME_SC_INVALID_SGL_SEG_DESC  0x0d
#define NVME_SC_INVALID_NUM_SGL_DESC  0x0e
#define NVME_SC_DATA_SGL_LEN_INVALID  0x0f
#define NVME_SC_MD_SGL_LEN_INVALID    0x10
#define NVME_SC_SGL_DESC_TYPE_INVALID 0x11
#define NVME_SC_INVALID_CMB_USE       0x12
#define NVME_SC_PRP_OFFSET_INVALID    0x13
#define NVME_SC_ATOMIC_WU_EXCEEDED    0x14
#define NVME_SC_OPERATION_DENIED      0x15
#define NVME_SC_SGL_OFFSET_INVALID    0x16
#define NVME_SC_HOSTID_INCONSISTENT   0x18
#define NVME_SC_KA_EXPIRED            0x19
#define NVME_SC_KA_TIMEOUT_INVALID    0x1a
#define NVME_SC_ABORT_PREEMPT         0x1b
#define NVME_SC_SANITIZE_FAILED       0x1c
#define NVME_SC_SANITIZE_IN_PROGRESS  0x1d
#define NVME_SC_SGL_DATA_BLK_GRAN     0x1e
#define NVME_SC_CMD_NOT_SUP_CMB_QUEUE 0x1f
#define NVME_SC_NS_WRITE_PROTECTED    0x20
#define NVME_SC_CMD_INTERRUPTED       0x21
#define NVME_SC_TRANSIENT_TRANSPORT   0x22
#define NVME_SC_PROHIBITED_LOCKDOWN   0x23
#define NVME_SC_ADMIN_MEDIA_NOT_READY 0x24
/* Generic status, NVM command set (0x80..). */
#define NVME_SC_LBA_OUT_OF_RANGE     0x80
#define NVME_SC_CAPACITY_EXCEEDED    0x81
#define NVME_SC_NS_NOT_READY         0x82
#define NVME_SC_RESERVATION_CONFLICT 0x83
#define NVME_SC_FORMAT_IN_PROGRESS   0x84

/* Command specific status (SCT 1). */
#define NVME_SC_CQ_INVALID             0x00
#define NVME_SC_INVALID_QID            0x01
#define NVME_SC_INVALID_QSIZE          0x02
#define NVME_SC_ABORT_LIMIT_EXCEEDED   0x03
#define NVME_SC_INVALID_INT_VECTOR     0x08
#define NVME_SC_INVALID_LOG_PAGE       0x09
#define NVME_SC_INVALID_FORMAT         0x0a
#define NVME_SC_INVALID_QUEUE_DELETION 0x0c
#define NVME_SC_FEATURE_NOT_SAVEABLE   0x0d
#define NVME_SC_FEATURE_NOT_CHANGEABLE 0x0e
/* Command specific, NVM command set. */
#define NVME_SC_CONFLICTING_ATTRS 0x80
#define NVME_SC_INVALID_PI        0x81
#define NVME_SC_WRITE_TO_RO_RANGE 0x82
#define NVME_SC_CMD_SIZE_LIMIT    0x83

/* Media and data integrity errors (SCT 2). */
#define NVME_SC_WRITE_FAULT       0x80
#define NVME_SC_UNRECOVERED_READ  0x81
#define NVME_SC_GUARD_CHECK       0x82
#define NVME_SC_APPTAG_CHECK      0x83
#define NVME_SC_REFTAG_CHECK      0x84
#define NVME_SC_COMPARE_FAILURE   0x85
#define NVME_SC_ACCESS_DENIED     0x86
#define NVME_SC_DEALLOCATED_BLOCK 0x87
#define NVME_SC_STORAGE_TAG_CHECK 0x88

/* Path related status (SCT 3). */
#define NVME_SC_INTERNAL_PATH_ERROR 0x00
#define NVME_SC_ANA_PERSISTENT_LOSS 0x01
#define NVME_SC_ANA_INACCESSIBLE    0x02
#define NVME_SC_ANA_TRANSITION      0x03
#define NVME_SC_CTRL_PATH_ERROR     0x60
#define NVME_SC_HOST_PATH_ERROR     0x70
#define NVME_SC_HOST_ABORTED        0x71

/* Admin opcodes. */
#define NVME_ADM_DELETE_SQ    0x00
#define NVME_ADM_CREATE_SQ    0x01
#define NVME_ADM_GET_LOG_PAGE 0x02
#define NVME_ADM_DELETE_CQ    0x04
#define NVME_ADM_CREATE_CQ    0x05
#define NVME_ADM_IDENTIFY     0x06
#define NVME_ADM_ABORT        0x08
#define NVME_ADM_SET_FEATURES 0x09
#define NVME_ADM_GET_FEATURES 0x0a
#define NVME_ADM_ASYNC_EVENT  0x0c
#define NVME_ADM_NS_MGMT      0x0d
#define NVME_ADM_FW_COMMIT    0x10
#define NVME_ADM_FW_DOWNLOAD  0x11
#define NVME_ADM_NS_ATTACH    0x15
#define NVME_ADM_KEEP_ALIVE   0x18
#define NVME_ADM_FORMAT_NVM   0x80
#define NVME_ADM_SANITIZE     0x84

/* NVM opcodes. */
#define NVME_CMD_FLUSH        0x00
#define NVME_CMD_WRITE        0x01
#define NVME_CMD_READ         0x02
#define NVME_CMD_WRITE_UNCOR  0x04
#define NVME_CMD_COMPARE      0x05
#define NVME_CMD_WRITE_ZEROES 0x08
#define NVME_CMD_DSM          0x09
#define NVME_CMD_VERIFY       0x0c

/* Read/Write/Compare/Verify/Write Zeroes CDW12. */
#define NVME_RW_NLB_MASK 0xffffu    /* 0's based */
#define NVME_RW_DEAC     (1u << 25) /* Write Zeroes: deallocate */
#define NVME_RW_FUA      (1u << 30)
#define NVME_RW_LR       (1u << 31)

/* Dataset Management: CDW10 bits 7:0 ranges (0's based), CDW11 attributes. */
#define NVME_DSM_IDR        (1u << 0)
#define NVME_DSM_IDW        (1u << 1)
#define NVME_DSM_AD         (1u << 2)
#define NVME_DSM_MAX_RANGES 256
struct nvme_dsm_range {
    uint32_t cattr;
    uint32_t nlb; /* not 0's based */
    uint64_t slba;
};
_Static_assert(sizeof(struct nvme_dsm_range) == 16, "DSM range is 16 bytes");

/* Identify CDW10 CNS values; CDW11 bits 31:24 CSI. */
#define NVME_CNS_NS             0x00
#define NVME_CNS_CTRL           0x01
#define NVME_CNS_ACTIVE_NS_LIST 0x02
#define NVME_CNS_NS_DESC_LIST   0x03
#define NVME_CNS_CS_NS          0x05
#define NVME_CNS_CS_CTRL        0x06
#define NVME_CSI_NVM            0x00
#define NVME_IDENTIFY_LEN       4096

/* Create I/O CQ/SQ CDW11. */
#define NVME_QUEUE_PC (1u << 0)
#define NVME_CQ_IEN   (1u << 1)

/* Feature identifiers. */
#define NVME_FEAT_ARBITRATION  0x01
#define NVME_FEAT_POWER_MGMT   0x02
#define NVME_FEAT_VWC          0x06
#define NVME_FEAT_NUM_QUEUES   0x07
#define NVME_FEAT_IRQ_COALESCE 0x08
#define NVME_FEAT_ASYNC_EVENT  0x0b

/* Identify Controller, CNS 01h (Base spec 5.17.2.1). */
struct nvme_id_ctrl {
    uint16_t vid;
    uint16_t ssvid;
    char sn[20];
    char mn[40];
    char fr[8];
    uint8_t rab;
    uint8_t ieee[3];
    uint8_t cmic;
    uint8_t mdts; /* 2^n units of CAP.MPSMIN pages; 0 = no limit */
    uint16_t cntlid;
    uint32_t ver;
    uint32_t rtd3r;
    uint32_t rtd3e;
    uint32_t oaes;
    uint32_t ctratt;
    uint16_t rrls;
    uint8_t rsvd102[9];
    uint8_t cntrltype;
    uint8_t fguid[16];
    uint16_t crdt[3];
    uint8_t rsvd134[122];
    uint16_t oacs;
    uint8_t acl; /* 0's based */
    uint8_t aerl;
    uint8_t frmw;
    uint8_t lpa;
    uint8_t elpe;
    uint8_t npss;
    uint8_t avscc;
    uint8_t apsta;
    uint16_t wctemp;
    uint16_t cctemp;
    uint16_t mtfa;
    uint32_t hmpre;
    uint32_t hmmin;
    uint8_t tnvmcap[16];
    uint8_t unvmcap[16];
    uint32_t rpmbs;
    uint16_t edstt;
    uint8_t dsto;
    uint8_t fwug;
    uint16_t kas;
    uint16_t hctma;
    uint16_t mntmt;
    uint16_t mxtmt;
    uint32_t sanicap;
    uint32_t hmminds;
    uint16_t hmmaxd;
    uint16_t nsetidmax;
    uint16_t endgidmax;
    uint8_t anatt;
    uint8_t anacap;
    uint32_t anagrpmax;
    uint32_t nanagrpid;
    uint32_t pels;
    uint16_t domainid;
    uint8_t rsvd358[10];
    uint8_t megcap[16];
    uint8_t rsvd384[128];
    uint8_t sqes; /* bits 3:0 required (min), 7:4 maximum, log2 */
    uint8_t cqes;
    uint16_t maxcmd;
    uint32_t nn;
    uint16_t oncs;
    uint16_t fuses;
    uint8_t fna;
    uint8_t vwc;
    uint16_t awun;
    uint16_t awupf;
    uint8_t icsvscc;
    uint8_t nwpc;
    uint16_t acwu;
    uint16_t cdfs;
    uint32_t sgls;
    uint32_t mnan;
    uint8_t maxdna[16];
    uint32_t maxcna;
    uint8_t rsvd564[204];
    char subnqn[256];
    uint8_t rsvd1024[768];
    uint8_t fabrics[256];
    uint8_t psd[32][32];
    uint8_t vs[1024];
};
_Static_assert(sizeof(struct nvme_id_ctrl) == 4096, "Identify Controller is 4 KiB");
_Static_assert(offsetof(struct nvme_id_ctrl, sn) == 4, "SN");
_Static_assert(offsetof(struct nvme_id_ctrl, mn) == 24, "MN");
_Static_assert(offsetof(struct nvme_id_ctrl, fr) == 64, "FR");
_Static_assert(offsetof(struct nvme_id_ctrl, mdts) == 77, "MDTS");
_Static_assert(offsetof(struct nvme_id_ctrl, ver) == 80, "VER");
_Static_assert(offsetof(struct nvme_id_ctrl, cntrltype) == 111, "CNTRLTYPE");
_Static_assert(offsetof(struct nvme_id_ctrl, oacs) == 256, "OACS");
_Static_assert(offsetof(struct nvme_id_ctrl, acl) == 258, "ACL");
_Static_assert(offsetof(struct nvme_id_ctrl, kas) == 320, "KAS");
_Static_assert(offsetof(struct nvme_id_ctrl, megcap) == 368, "MEGCAP");
_Static_assert(offsetof(struct nvme_id_ctrl, sqes) == 512, "SQES");
_Static_assert(offsetof(struct nvme_id_ctrl, nn) == 516, "NN");
_Static_assert(offsetof(struct nvme_id_ctrl, oncs) == 520, "ONCS");
_Static_assert(offsetof(struct nvme_id_ctrl, vwc) == 525, "VWC");
_Static_assert(offsetof(struct nvme_id_ctrl, sgls) == 536, "SGLS");
_Static_assert(offsetof(struct nvme_id_ctrl, subnqn) == 768, "SUBNQN");
_Static_assert(offsetof(struct nvme_id_ctrl, psd) == 2048, "PSD0");

/* ONCS bits. */
#define NVME_ONCS_COMPARE       (1u << 0)
#define NVME_ONCS_WRITE_UNCOR   (1u << 1)
#define NVME_ONCS_DSM           (1u << 2)
#define NVME_ONCS_WRITE_ZEROES  (1u << 3)
#define NVME_ONCS_SAVE_FEATURES (1u << 4)
#define NVME_ONCS_RESERVATIONS  (1u << 5)
#define NVME_ONCS_TIMESTAMP     (1u << 6)
#define NVME_ONCS_VERIFY        (1u << 7)
#define NVME_ONCS_COPY          (1u << 8)
/* VWC bit 0: a volatile write cache is present. */
#define NVME_VWC_PRESENT (1u << 0)
/* SGLS bits 1:0: 01b any alignment, 10b dword aligned; 00b none. */
#define NVME_SGLS_SUPPORT_MASK 0x3u

/* I/O command set specific Identify Controller, CNS 06h CSI 00h (NVM spec 4.1.5.1). */
struct nvme_id_ctrl_nvm {
    uint8_t vsl;    /* Verify size limit, MDTS units; 0 = none */
    uint8_t wzsl;   /* Write Zeroes size limit */
    uint8_t wusl;   /* Write Uncorrectable size limit */
    uint8_t dmrl;   /* DSM ranges per command; 0 = not reported */
    uint32_t dmrsl; /* DSM logical blocks per range; 0 = not reported */
    uint64_t dmsl;  /* DSM logical blocks per command; 0 = not reported */
    uint8_t rsvd16[4080];
};
_Static_assert(sizeof(struct nvme_id_ctrl_nvm) == 4096, "I/O CS Identify Controller is 4 KiB");
_Static_assert(offsetof(struct nvme_id_ctrl_nvm, dmrl) == 3, "DMRL");
_Static_assert(offsetof(struct nvme_id_ctrl_nvm, dmrsl) == 4, "DMRSL");
_Static_assert(offsetof(struct nvme_id_ctrl_nvm, dmsl) == 8, "DMSL");

/* LBA format descriptor. */
struct nvme_lbaf {
    uint16_t ms;   /* metadata bytes per block */
    uint8_t lbads; /* log2 of the data size; 0 = format not available */
    uint8_t rp;    /* bits 1:0 relative performance */
};
_Static_assert(sizeof(struct nvme_lbaf) == 4, "LBA format is 4 bytes");

/* Identify Namespace, CNS 00h, NVM command set (NVM spec 4.1.5.1). */
struct nvme_id_ns {
    uint64_t nsze;
    uint64_t ncap;
    uint64_t nuse;
    uint8_t nsfeat;
    uint8_t nlbaf; /* 0's based */
    uint8_t flbas; /* bits 3:0 format index low, 4 extended LBA, 6:5 format index high */
    uint8_t mc;
    uint8_t dpc;
    uint8_t dps;
    uint8_t nmic;
    uint8_t rescap;
    uint8_t fpi;
    uint8_t dlfeat;
    uint16_t nawun;
    uint16_t nawupf;
    uint16_t nacwu;
    uint16_t nabsn;
    uint16_t nabo;
    uint16_t nabspf;
    uint16_t noiob;
    uint8_t nvmcap[16];
    uint16_t npwg;
    uint16_t npwa;
    uint16_t npdg;
    uint16_t npda;
    uint16_t nows;
    uint16_t mssrl;
    uint32_t mcl;
    uint8_t msrc;
    uint8_t rsvd81[11];
    uint32_t anagrpid;
    uint8_t rsvd96[3];
    uint8_t nsattr;
    uint16_t nvmsetid;
    uint16_t endgid;
    uint8_t nguid[16];
    uint8_t eui64[8];
    struct nvme_lbaf lbaf[64];
    uint8_t rsvd384[3712];
};
_Static_assert(sizeof(struct nvme_id_ns) == 4096, "Identify Namespace is 4 KiB");
_Static_assert(offsetof(struct nvme_id_ns, nsfeat) == 24, "NSFEAT");
_Static_assert(offsetof(struct nvme_id_ns, flbas) == 26, "FLBAS");
_Static_assert(offsetof(struct nvme_id_ns, dlfeat) == 33, "DLFEAT");
_Static_assert(offsetof(struct nvme_id_ns, nvmcap) == 48, "NVMCAP");
_Static_assert(offsetof(struct nvme_id_ns, npwg) == 64, "NPWG");
_Static_assert(offsetof(struct nvme_id_ns, anagrpid) == 92, "ANAGRPID");
_Static_assert(offsetof(struct nvme_id_ns, nsattr) == 99, "NSATTR");
_Static_assert(offsetof(struct nvme_id_ns, nguid) == 104, "NGUID");
_Static_assert(offsetof(struct nvme_id_ns, eui64) == 120, "EUI64");
_Static_assert(offsetof(struct nvme_id_ns, lbaf) == 128, "LBAF0");

#define NVME_NSFEAT_THINP       (1u << 0)
#define NVME_FLBAS_EXTENDED     (1u << 4)
#define NVME_DLFEAT_READ_MASK   0x7u /* 001b: deallocated reads 00h; 010b: FFh */
#define NVME_DLFEAT_READ_ZEROES 0x1u
#define NVME_DLFEAT_READ_ONES   0x2u
#define NVME_DLFEAT_WZ_DEAC     (1u << 3)

/* Format index from FLBAS: bits 6:5 extend bits 3:0 when NLBAF > 16. */
static inline unsigned nvme_flbas_index(uint8_t flbas, uint8_t nlbaf)
{
    unsigned idx = flbas & 0xf;

    if (nlbaf >= 16)
        idx |= (unsigned)((flbas >> 5) & 3) << 4;
    return idx;
}

#endif
