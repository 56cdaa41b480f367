/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SCSI protocol constants (SPC-4, SBC-3) used by the target emulation.  Only
 * what the emulation implements or has to recognise is listed.
 */
#ifndef VUS_SCSI_SCSI_PROTO_H
#define VUS_SCSI_SCSI_PROTO_H

/* Operation codes. */
#define SCSI_OP_TEST_UNIT_READY     0x00
#define SCSI_OP_REQUEST_SENSE       0x03
#define SCSI_OP_READ_6              0x08
#define SCSI_OP_WRITE_6             0x0a
#define SCSI_OP_INQUIRY             0x12
#define SCSI_OP_MODE_SELECT_6       0x15
#define SCSI_OP_RESERVE_6           0x16
#define SCSI_OP_RELEASE_6           0x17
#define SCSI_OP_MODE_SENSE_6        0x1a
#define SCSI_OP_START_STOP_UNIT     0x1b
#define SCSI_OP_PREVENT_ALLOW       0x1e
#define SCSI_OP_READ_CAPACITY_10    0x25
#define SCSI_OP_READ_10             0x28
#define SCSI_OP_WRITE_10            0x2a
#define SCSI_OP_WRITE_VERIFY_10     0x2e
#define SCSI_OP_VERIFY_10           0x2f
#define SCSI_OP_PREFETCH_10         0x34
#define SCSI_OP_SYNC_CACHE_10       0x35
#define SCSI_OP_READ_DEFECT_DATA_10 0x37
#define SCSI_OP_WRITE_SAME_10       0x41
#define SCSI_OP_SANITIZE            0x48
#define SCSI_OP_UNMAP               0x42
#define SCSI_OP_LOG_SENSE           0x4d
#define SCSI_OP_MODE_SELECT_10      0x55
#define SCSI_OP_RESERVE_10          0x56
#define SCSI_OP_RELEASE_10          0x57
#define SCSI_OP_MODE_SENSE_10       0x5a
#define SCSI_OP_PR_IN               0x5e
#define SCSI_OP_PR_OUT              0x5f
#define SCSI_OP_READ_16             0x88
#define SCSI_OP_COMPARE_AND_WRITE   0x89
#define SCSI_OP_WRITE_16            0x8a
#define SCSI_OP_ORWRITE_16          0x8b
#define SCSI_OP_WRITE_VERIFY_16     0x8e
#define SCSI_OP_VERIFY_16           0x8f
#define SCSI_OP_PREFETCH_16         0x90
#define SCSI_OP_SYNC_CACHE_16       0x91
#define SCSI_OP_WRITE_SAME_16       0x93
#define SCSI_OP_WRITE_ATOMIC_16     0x9c
#define SCSI_OP_SERVICE_ACTION_IN   0x9e
#define SCSI_OP_EXTENDED_COPY       0x83
#define SCSI_OP_RECEIVE_COPY_RESULT 0x84
#define SCSI_OP_REPORT_LUNS         0xa0
#define SCSI_OP_MAINTENANCE_IN      0xa3
#define SCSI_OP_READ_12             0xa8
#define SCSI_OP_WRITE_12            0xaa
#define SCSI_OP_WRITE_VERIFY_12     0xae
#define SCSI_OP_VERIFY_12           0xaf
#define SCSI_OP_READ_DEFECT_DATA_12 0xb7

/* Service actions. */
#define SCSI_SAI_READ_CAPACITY_16  0x10 /* SERVICE ACTION IN(16) */
#define SCSI_SAI_GET_LBA_STATUS    0x12
#define SCSI_MI_REPORT_OPCODES     0x0c /* MAINTENANCE IN */
#define SCSI_SANITIZE_OVERWRITE    0x01 /* SANITIZE service actions */
#define SCSI_SANITIZE_BLOCK_ERASE  0x02
#define SCSI_SANITIZE_CRYPTO_ERASE 0x03
#define SCSI_SANITIZE_EXIT_FAILURE 0x1f
#define SCSI_XCOPY_LID1            0x00 /* EXTENDED COPY */
#define SCSI_RCR_COPY_STATUS       0x00 /* RECEIVE COPY RESULTS */
#define SCSI_RCR_OP_PARAMS         0x03

/* Sense keys. */
#define SCSI_SK_NO_SENSE        0x0
#define SCSI_SK_NOT_READY       0x2
#define SCSI_SK_MEDIUM_ERROR    0x3
#define SCSI_SK_HARDWARE_ERROR  0x4
#define SCSI_SK_ILLEGAL_REQUEST 0x5
#define SCSI_SK_UNIT_ATTENTION  0x6
#define SCSI_SK_DATA_PROTECT    0x7
#define SCSI_SK_COPY_ABORTED    0xa
#define SCSI_SK_ABORTED_COMMAND 0xb
#define SCSI_SK_MISCOMPARE      0xe

/* Additional sense codes (ASC, ASCQ). */
#define SCSI_ASC_NONE                   0x00
#define SCSI_ASC_WRITE_ERROR            0x0c /* /00 */
#define SCSI_ASC_UNRECOVERED_READ       0x11 /* /00 */
#define SCSI_ASC_MISCOMPARE             0x1d /* /00: during verify */
#define SCSI_ASC_INVALID_OPCODE         0x20 /* /00 */
#define SCSI_ASC_LBA_OUT_OF_RANGE       0x21 /* /00 */
#define SCSI_ASC_INVALID_FIELD_IN_CDB   0x24 /* /00 */
#define SCSI_ASC_LUN_NOT_SUPPORTED      0x25 /* /00 */
#define SCSI_ASC_INVALID_FIELD_IN_PARAM 0x26 /* /00 */
#define SCSI_ASC_PARAM_LIST_LENGTH      0x1a /* /00 */
#define SCSI_ASC_WRITE_PROTECTED        0x27 /* /00; /07 space allocation failed */
#define SCSI_ASCQ_SPACE_ALLOC_FAILED    0x07
#define SCSI_ASC_POWER_ON_RESET         0x29 /* /00 */
#define SCSI_ASC_PARAMETERS_CHANGED     0x2a /* /09 capacity data has changed */
#define SCSI_ASCQ_CAPACITY_CHANGED      0x09
#define SCSI_ASCQ_RES_PREEMPTED         0x03
#define SCSI_ASCQ_RES_RELEASED          0x04
#define SCSI_ASCQ_REG_PREEMPTED         0x05
#define SCSI_ASC_SAVING_NOT_SUPPORTED   0x39 /* /00 */
#define SCSI_ASC_TARGET_CHANGED         0x3f /* /0E reported luns data has changed */
#define SCSI_ASCQ_REPORTED_LUNS         0x0e
#define SCSI_ASC_INTERNAL_FAILURE       0x44 /* /00 */
#define SCSI_ASC_NOT_READY              0x04 /* /1B sanitize in progress */
#define SCSI_ASCQ_SANITIZE_IN_PROGRESS  0x1b
#define SCSI_ASC_MEDIUM_NOT_PRESENT     0x3a /* /00 */
#define SCSI_ASC_MEDIUM_CHANGED         0x28 /* /00 not ready to ready change, medium may have changed */
#define SCSI_ASC_REMOVAL_PREVENTED      0x53 /* /02 medium removal prevented */
#define SCSI_ASCQ_REMOVAL_PREVENTED     0x02
#define SCSI_ASC_MEDIUM_FORMAT_CORRUPT  0x31 /* /03 sanitize command failed */
#define SCSI_ASCQ_SANITIZE_FAILED       0x03
#define SCSI_ASCQ_OP_IN_PROGRESS        0x16 /* 00h/16h operation in progress */
#define SCSI_ASC_COPY_TARGET            0x0d /* /02 not reachable, /03 incorrect device type */
#define SCSI_ASCQ_TARGET_UNREACHABLE    0x02
#define SCSI_ASCQ_TARGET_WRONG_TYPE     0x03
#define SCSI_ASCQ_THIRD_PARTY_FAILURE   0x01
#define SCSI_ASCQ_TOO_MANY_TARGETS      0x06 /* with ASC 26h */
#define SCSI_ASCQ_UNSUPP_TARGET_TYPE    0x07
#define SCSI_ASCQ_TOO_MANY_SEGMENTS     0x08
#define SCSI_ASCQ_UNSUPP_SEGMENT_TYPE   0x09
#define SCSI_ASC_INSUFFICIENT_RESOURCES 0x55 /* /03 */
#define SCSI_ASCQ_INSUFFICIENT_RES      0x03

/* Fixed-format sense data (SPC-4 4.5.3). */
#define SCSI_SENSE_FIXED_CURRENT 0x70
#define SCSI_SENSE_FIXED_LEN     18
#define SCSI_SENSE_DESC_CURRENT  0x72
#define SCSI_SENSE_DESC_LEN      8    /* the header, without descriptors */
#define SCSI_SENSE_DESC_INFO     0x00 /* information descriptor, 12 bytes */
#define SCSI_SENSE_DESC_SKS      0x02 /* sense key specific descriptor, 8 bytes */
#define SCSI_SENSE_VALID         0x80 /* INFORMATION field is valid */

/* INQUIRY. */
#define SCSI_TYPE_DISK      0x00
#define SCSI_PQ_NOT_CAPABLE 0x60 /* peripheral qualifier 011b, in byte 0 bits 7-5 */
#define SCSI_TYPE_UNKNOWN   0x1f
#define SCSI_VERSION_SPC4   0x06
#define SCSI_INQ_HISUP      0x10
#define SCSI_INQ_RMB        0x80 /* byte 1: removable medium */
#define SCSI_INQ_RDF_2      0x02 /* response data format */
#define SCSI_INQ_CMDQUE     0x02
#define SCSI_INQ_3PC        0x08 /* byte 5: EXTENDED COPY is supported */
#define SCSI_INQ_STD_LEN    74   /* through 8 version descriptors */

/* VPD pages. */
#define SCSI_VPD_SUPPORTED    0x00
#define SCSI_VPD_SERIAL       0x80
#define SCSI_VPD_DEVICE_ID    0x83
#define SCSI_VPD_BLOCK_LIMITS 0xb0
#define SCSI_VPD_BLOCK_DEV    0xb1
#define SCSI_VPD_LB_PROVISION 0xb2

/* Designator types / code sets (VPD 83h). */
#define SCSI_CODESET_BINARY 0x1
#define SCSI_CODESET_ASCII  0x2
#define SCSI_DESIG_T10      0x1
#define SCSI_DESIG_EUI64    0x2
#define SCSI_DESIG_NAA      0x3

/* Version descriptors (SPC-4 table "version descriptor values"). */
#define SCSI_VD_SAM5 0x00a0
#define SCSI_VD_SPC4 0x0460
#define SCSI_VD_SBC3 0x04c0

/* Mode pages. */
#define SCSI_MP_CACHING         0x08
#define SCSI_MP_CONTROL         0x0a
#define SCSI_MP_ALL             0x3f
#define SCSI_MP_SUB_ALL         0xff
#define SCSI_MODE_DSP_WP        0x80 /* device-specific parameter: write protected */
#define SCSI_MODE_DSP_DPOFUA    0x10
#define SCSI_MODE_PC_CURRENT    0
#define SCSI_MODE_PC_CHANGEABLE 1
#define SCSI_MODE_PC_DEFAULT    2
#define SCSI_MODE_PC_SAVED      3

/* CDB bits. */
#define SCSI_CDB_FUA     0x08 /* READ/WRITE(10/12/16) byte 1 */
#define SCSI_CDB_PROTECT 0xe0 /* RDPROTECT/WRPROTECT/VRPROTECT, byte 1 */
#define SCSI_CDB_NACA    0x04 /* CONTROL byte */
#define SCSI_WS_NDOB     0x01 /* WRITE SAME(16) byte 1 */
#define SCSI_WS_UNMAP    0x08
#define SCSI_WS_ANCHOR   0x10

#endif
