//! Stream commands against Redis 7.0.15's exact replies (captured from a real redis-server
//! by a script; IDs are explicit, so no reply depends on the clock).

mod common;

use common::*;

#[test]
fn xadd_and_ranges() {
    let mut t = T::new();
    t.expect("xadd s 1-1 a 1 b 2", b"$3\r\n1-1\r\n");
    t.expect(
        "xadd s 1-1 a 1",
        b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n",
    );
    t.expect(
        "xadd s 1 a 1",
        b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n",
    );
    t.expect("xadd s 1-* a 1", b"$3\r\n1-2\r\n");
    t.expect(
        "xadd s 0-0 a 1",
        b"-ERR The ID specified in XADD must be greater than 0-0\r\n",
    );
    t.expect("xadd s2 0-* a 1", b"$3\r\n0-1\r\n");
    t.expect(
        "xadd s 5-5 a",
        b"-ERR wrong number of arguments for 'xadd' command\r\n",
    );
    t.expect(
        "xadd s 5-5",
        b"-ERR wrong number of arguments for 'xadd' command\r\n",
    );
    t.expect(
        "xadd s abc a 1",
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
    t.expect(
        "xadd s 18446744073709551615-* a 1",
        b"$22\r\n18446744073709551615-0\r\n",
    );
    t.expect(
        "xadd s2 18446744073709551615-18446744073709551615 a 1",
        b"$41\r\n18446744073709551615-18446744073709551615\r\n",
    );
    t.expect(
        "xadd s 10-1 a 1 b 2 c 3",
        b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n",
    );
    t.expect(
        "xadd s 11-1 x 1",
        b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n",
    );
    t.expect(
        "xadd s 12-1 a 1 b 2",
        b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n",
    );
    t.expect(
        "xadd s nomkstream 13-1 a 1",
        b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n",
    );
    t.expect("xadd nos nomkstream 1-1 a 1", b"$-1\r\n");
    t.expect("exists nos", b":0\r\n");
    t.expect("xlen s", b":3\r\n");
    t.expect("xlen nos", b":0\r\n");
    t.expect("xrange s - +", b"*3\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$3\r\n1-2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$22\r\n18446744073709551615-0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    t.expect("xrange s - + count 2", b"*2\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$3\r\n1-2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    t.expect("xrange s - + count 0", b"*-1\r\n");
    t.expect("xrange s - + count -1", b"*-1\r\n");
    t.expect(
        "xrange s (1-1 (12-1",
        b"*1\r\n*2\r\n$3\r\n1-2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    t.expect("xrange s 10 11", b"*0\r\n");
    t.expect("xrange s 10-1 10-1", b"*0\r\n");
    t.expect("xrevrange s + -", b"*3\r\n*2\r\n$22\r\n18446744073709551615-0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\n1-2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n");
    t.expect("xrevrange s + - count 3", b"*3\r\n*2\r\n$22\r\n18446744073709551615-0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\n1-2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n");
    t.expect(
        "xrevrange s (12-1 (1-1",
        b"*1\r\n*2\r\n$3\r\n1-2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    t.expect(
        "xrange s (18446744073709551615-18446744073709551615 +",
        b"-ERR invalid start ID for the interval\r\n",
    );
    t.expect(
        "xrange s - (0-0",
        b"-ERR invalid end ID for the interval\r\n",
    );
    t.expect("xrange s - + count", b"-ERR syntax error\r\n");
    t.expect("xrange s - + foo 1", b"-ERR syntax error\r\n");
    t.expect(
        "xrange s ( +",
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
    t.expect(
        "xrange s -1 +",
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
    t.expect("xrange nos - +", b"*0\r\n");
    t.expect("set str x", b"+OK\r\n");
    t.expect(
        "xadd str 1-1 a 1",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "xrange str - +",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "xlen str",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "xadd s maxlen 3 20-1 a 1",
        b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n",
    );
    t.expect("xlen s", b":3\r\n");
    t.expect("xrange s - +", b"*3\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$3\r\n1-2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$22\r\n18446744073709551615-0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    t.expect(
        "xadd s maxlen ~ 1 21-1 a 1",
        b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n",
    );
    t.expect(
        "xadd s minid 20-1 22-1 a 1",
        b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n",
    );
    t.expect("xrange s - +", b"*3\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$3\r\n1-2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$22\r\n18446744073709551615-0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    t.expect(
        "xadd s maxlen -1 23-1 a 1",
        b"-ERR The MAXLEN argument must be >= 0.\r\n",
    );
    t.expect(
        "xadd s maxlen 1 minid 1 23-1 a 1",
        b"-ERR syntax error, MAXLEN and MINID options at the same time are not compatible\r\n",
    );
    t.expect(
        "xadd s limit 10 23-1 a 1",
        b"-ERR syntax error, LIMIT cannot be used without specifying a trimming strategy\r\n",
    );
    t.expect(
        "xadd s maxlen 5 limit 10 23-1 a 1",
        b"-ERR syntax error, LIMIT cannot be used without the special ~ option\r\n",
    );
    t.expect(
        "xadd s maxlen = 5 limit 10 23-1 a 1",
        b"-ERR syntax error, LIMIT cannot be used without the special ~ option\r\n",
    );
    t.expect(
        "xadd s maxlen ~ 5 limit -1 23-1 a 1",
        b"-ERR The LIMIT argument must be >= 0.\r\n",
    );
    t.expect(
        "xadd s maxlen ~ 5 limit 10 23-1 a 1",
        b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n",
    );
    t.expect(
        "xadd s minid ~ abc 24-1 a 1",
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
    t.expect(
        "xadd s maxlen abc 24-1 a 1",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "xadd s foo 24-1 a 1",
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
}

#[test]
fn xdel_xtrim_xsetid_xinfo() {
    let mut t = T::new();
    t.expect("xadd s 1-1 f v1 g x", b"$3\r\n1-1\r\n");
    t.expect("xadd s 2-2 f v2 g x", b"$3\r\n2-2\r\n");
    t.expect("xadd s 3-0 f v3 g x", b"$3\r\n3-0\r\n");
    t.expect("xadd s 4-1 f v4 g x", b"$3\r\n4-1\r\n");
    t.expect("xadd s 5-2 f v5 g x", b"$3\r\n5-2\r\n");
    t.expect("xadd s 6-0 f v6 g x", b"$3\r\n6-0\r\n");
    t.expect("xadd s 7-1 f v7 g x", b"$3\r\n7-1\r\n");
    t.expect("xadd s 8-2 f v8 g x", b"$3\r\n8-2\r\n");
    t.expect("xadd s 9-0 f v9 g x", b"$3\r\n9-0\r\n");
    t.expect("xadd s 10-1 f v10 g x", b"$4\r\n10-1\r\n");
    t.expect("xadd s 11-2 f v11 g x", b"$4\r\n11-2\r\n");
    t.expect("xadd s 12-0 f v12 g x", b"$4\r\n12-0\r\n");
    t.expect("xadd s 13-1 f v13 g x", b"$4\r\n13-1\r\n");
    t.expect("xadd s 14-2 f v14 g x", b"$4\r\n14-2\r\n");
    t.expect("xadd s 15-0 f v15 g x", b"$4\r\n15-0\r\n");
    t.expect("xadd s 16-1 f v16 g x", b"$4\r\n16-1\r\n");
    t.expect("xadd s 17-2 f v17 g x", b"$4\r\n17-2\r\n");
    t.expect("xadd s 18-0 f v18 g x", b"$4\r\n18-0\r\n");
    t.expect("xadd s 19-1 f v19 g x", b"$4\r\n19-1\r\n");
    t.expect("xadd s 20-2 f v20 g x", b"$4\r\n20-2\r\n");
    t.expect("xadd s 21-0 f v21 g x", b"$4\r\n21-0\r\n");
    t.expect("xadd s 22-1 f v22 g x", b"$4\r\n22-1\r\n");
    t.expect("xadd s 23-2 f v23 g x", b"$4\r\n23-2\r\n");
    t.expect("xadd s 24-0 f v24 g x", b"$4\r\n24-0\r\n");
    t.expect("xadd s 25-1 f v25 g x", b"$4\r\n25-1\r\n");
    t.expect("xadd s 26-2 f v26 g x", b"$4\r\n26-2\r\n");
    t.expect("xadd s 27-0 f v27 g x", b"$4\r\n27-0\r\n");
    t.expect("xadd s 28-1 f v28 g x", b"$4\r\n28-1\r\n");
    t.expect("xadd s 29-2 f v29 g x", b"$4\r\n29-2\r\n");
    t.expect("xadd s 30-0 f v30 g x", b"$4\r\n30-0\r\n");
    t.expect("xadd s 31-1 f v31 g x", b"$4\r\n31-1\r\n");
    t.expect("xadd s 32-2 f v32 g x", b"$4\r\n32-2\r\n");
    t.expect("xadd s 33-0 f v33 g x", b"$4\r\n33-0\r\n");
    t.expect("xadd s 34-1 f v34 g x", b"$4\r\n34-1\r\n");
    t.expect("xadd s 35-2 f v35 g x", b"$4\r\n35-2\r\n");
    t.expect("xadd s 36-0 f v36 g x", b"$4\r\n36-0\r\n");
    t.expect("xadd s 37-1 f v37 g x", b"$4\r\n37-1\r\n");
    t.expect("xadd s 38-2 f v38 g x", b"$4\r\n38-2\r\n");
    t.expect("xadd s 39-0 f v39 g x", b"$4\r\n39-0\r\n");
    t.expect("xadd s 40-1 f v40 g x", b"$4\r\n40-1\r\n");
    t.expect("xadd s 41-2 f v41 g x", b"$4\r\n41-2\r\n");
    t.expect("xadd s 42-0 f v42 g x", b"$4\r\n42-0\r\n");
    t.expect("xadd s 43-1 f v43 g x", b"$4\r\n43-1\r\n");
    t.expect("xadd s 44-2 f v44 g x", b"$4\r\n44-2\r\n");
    t.expect("xadd s 45-0 f v45 g x", b"$4\r\n45-0\r\n");
    t.expect("xadd s 46-1 f v46 g x", b"$4\r\n46-1\r\n");
    t.expect("xadd s 47-2 f v47 g x", b"$4\r\n47-2\r\n");
    t.expect("xadd s 48-0 f v48 g x", b"$4\r\n48-0\r\n");
    t.expect("xadd s 49-1 f v49 g x", b"$4\r\n49-1\r\n");
    t.expect("xadd s 50-2 f v50 g x", b"$4\r\n50-2\r\n");
    t.expect("xadd s 51-0 f v51 g x", b"$4\r\n51-0\r\n");
    t.expect("xadd s 52-1 f v52 g x", b"$4\r\n52-1\r\n");
    t.expect("xadd s 53-2 f v53 g x", b"$4\r\n53-2\r\n");
    t.expect("xadd s 54-0 f v54 g x", b"$4\r\n54-0\r\n");
    t.expect("xadd s 55-1 f v55 g x", b"$4\r\n55-1\r\n");
    t.expect("xadd s 56-2 f v56 g x", b"$4\r\n56-2\r\n");
    t.expect("xadd s 57-0 f v57 g x", b"$4\r\n57-0\r\n");
    t.expect("xadd s 58-1 f v58 g x", b"$4\r\n58-1\r\n");
    t.expect("xadd s 59-2 f v59 g x", b"$4\r\n59-2\r\n");
    t.expect("xadd s 60-0 f v60 g x", b"$4\r\n60-0\r\n");
    t.expect("xadd s 61-1 f v61 g x", b"$4\r\n61-1\r\n");
    t.expect("xadd s 62-2 f v62 g x", b"$4\r\n62-2\r\n");
    t.expect("xadd s 63-0 f v63 g x", b"$4\r\n63-0\r\n");
    t.expect("xadd s 64-1 f v64 g x", b"$4\r\n64-1\r\n");
    t.expect("xadd s 65-2 f v65 g x", b"$4\r\n65-2\r\n");
    t.expect("xadd s 66-0 f v66 g x", b"$4\r\n66-0\r\n");
    t.expect("xadd s 67-1 f v67 g x", b"$4\r\n67-1\r\n");
    t.expect("xadd s 68-2 f v68 g x", b"$4\r\n68-2\r\n");
    t.expect("xadd s 69-0 f v69 g x", b"$4\r\n69-0\r\n");
    t.expect("xadd s 70-1 f v70 g x", b"$4\r\n70-1\r\n");
    t.expect("xadd s 71-2 f v71 g x", b"$4\r\n71-2\r\n");
    t.expect("xadd s 72-0 f v72 g x", b"$4\r\n72-0\r\n");
    t.expect("xadd s 73-1 f v73 g x", b"$4\r\n73-1\r\n");
    t.expect("xadd s 74-2 f v74 g x", b"$4\r\n74-2\r\n");
    t.expect("xadd s 75-0 f v75 g x", b"$4\r\n75-0\r\n");
    t.expect("xadd s 76-1 f v76 g x", b"$4\r\n76-1\r\n");
    t.expect("xadd s 77-2 f v77 g x", b"$4\r\n77-2\r\n");
    t.expect("xadd s 78-0 f v78 g x", b"$4\r\n78-0\r\n");
    t.expect("xadd s 79-1 f v79 g x", b"$4\r\n79-1\r\n");
    t.expect("xadd s 80-2 f v80 g x", b"$4\r\n80-2\r\n");
    t.expect("xadd s 81-0 f v81 g x", b"$4\r\n81-0\r\n");
    t.expect("xadd s 82-1 f v82 g x", b"$4\r\n82-1\r\n");
    t.expect("xadd s 83-2 f v83 g x", b"$4\r\n83-2\r\n");
    t.expect("xadd s 84-0 f v84 g x", b"$4\r\n84-0\r\n");
    t.expect("xadd s 85-1 f v85 g x", b"$4\r\n85-1\r\n");
    t.expect("xadd s 86-2 f v86 g x", b"$4\r\n86-2\r\n");
    t.expect("xadd s 87-0 f v87 g x", b"$4\r\n87-0\r\n");
    t.expect("xadd s 88-1 f v88 g x", b"$4\r\n88-1\r\n");
    t.expect("xadd s 89-2 f v89 g x", b"$4\r\n89-2\r\n");
    t.expect("xadd s 90-0 f v90 g x", b"$4\r\n90-0\r\n");
    t.expect("xadd s 91-1 f v91 g x", b"$4\r\n91-1\r\n");
    t.expect("xadd s 92-2 f v92 g x", b"$4\r\n92-2\r\n");
    t.expect("xadd s 93-0 f v93 g x", b"$4\r\n93-0\r\n");
    t.expect("xadd s 94-1 f v94 g x", b"$4\r\n94-1\r\n");
    t.expect("xadd s 95-2 f v95 g x", b"$4\r\n95-2\r\n");
    t.expect("xadd s 96-0 f v96 g x", b"$4\r\n96-0\r\n");
    t.expect("xadd s 97-1 f v97 g x", b"$4\r\n97-1\r\n");
    t.expect("xadd s 98-2 f v98 g x", b"$4\r\n98-2\r\n");
    t.expect("xadd s 99-0 f v99 g x", b"$4\r\n99-0\r\n");
    t.expect("xadd s 100-1 f v100 g x", b"$5\r\n100-1\r\n");
    t.expect("xadd s 101-2 f v101 g x", b"$5\r\n101-2\r\n");
    t.expect("xadd s 102-0 f v102 g x", b"$5\r\n102-0\r\n");
    t.expect("xadd s 103-1 f v103 g x", b"$5\r\n103-1\r\n");
    t.expect("xadd s 104-2 f v104 g x", b"$5\r\n104-2\r\n");
    t.expect("xadd s 105-0 f v105 g x", b"$5\r\n105-0\r\n");
    t.expect("xadd s 106-1 f v106 g x", b"$5\r\n106-1\r\n");
    t.expect("xadd s 107-2 f v107 g x", b"$5\r\n107-2\r\n");
    t.expect("xadd s 108-0 f v108 g x", b"$5\r\n108-0\r\n");
    t.expect("xadd s 109-1 f v109 g x", b"$5\r\n109-1\r\n");
    t.expect("xadd s 110-2 f v110 g x", b"$5\r\n110-2\r\n");
    t.expect("xadd s 111-0 f v111 g x", b"$5\r\n111-0\r\n");
    t.expect("xadd s 112-1 f v112 g x", b"$5\r\n112-1\r\n");
    t.expect("xadd s 113-2 f v113 g x", b"$5\r\n113-2\r\n");
    t.expect("xadd s 114-0 f v114 g x", b"$5\r\n114-0\r\n");
    t.expect("xadd s 115-1 f v115 g x", b"$5\r\n115-1\r\n");
    t.expect("xadd s 116-2 f v116 g x", b"$5\r\n116-2\r\n");
    t.expect("xadd s 117-0 f v117 g x", b"$5\r\n117-0\r\n");
    t.expect("xadd s 118-1 f v118 g x", b"$5\r\n118-1\r\n");
    t.expect("xadd s 119-2 f v119 g x", b"$5\r\n119-2\r\n");
    t.expect("xadd s 120-0 f v120 g x", b"$5\r\n120-0\r\n");
    t.expect("xadd s 121-1 f v121 g x", b"$5\r\n121-1\r\n");
    t.expect("xadd s 122-2 f v122 g x", b"$5\r\n122-2\r\n");
    t.expect("xadd s 123-0 f v123 g x", b"$5\r\n123-0\r\n");
    t.expect("xadd s 124-1 f v124 g x", b"$5\r\n124-1\r\n");
    t.expect("xadd s 125-2 f v125 g x", b"$5\r\n125-2\r\n");
    t.expect("xadd s 126-0 f v126 g x", b"$5\r\n126-0\r\n");
    t.expect("xadd s 127-1 f v127 g x", b"$5\r\n127-1\r\n");
    t.expect("xadd s 128-2 f v128 g x", b"$5\r\n128-2\r\n");
    t.expect("xadd s 129-0 f v129 g x", b"$5\r\n129-0\r\n");
    t.expect("xadd s 130-1 f v130 g x", b"$5\r\n130-1\r\n");
    t.expect("xadd s 131-2 f v131 g x", b"$5\r\n131-2\r\n");
    t.expect("xadd s 132-0 f v132 g x", b"$5\r\n132-0\r\n");
    t.expect("xadd s 133-1 f v133 g x", b"$5\r\n133-1\r\n");
    t.expect("xadd s 134-2 f v134 g x", b"$5\r\n134-2\r\n");
    t.expect("xadd s 135-0 f v135 g x", b"$5\r\n135-0\r\n");
    t.expect("xadd s 136-1 f v136 g x", b"$5\r\n136-1\r\n");
    t.expect("xadd s 137-2 f v137 g x", b"$5\r\n137-2\r\n");
    t.expect("xadd s 138-0 f v138 g x", b"$5\r\n138-0\r\n");
    t.expect("xadd s 139-1 f v139 g x", b"$5\r\n139-1\r\n");
    t.expect("xadd s 140-2 f v140 g x", b"$5\r\n140-2\r\n");
    t.expect("xadd s 141-0 f v141 g x", b"$5\r\n141-0\r\n");
    t.expect("xadd s 142-1 f v142 g x", b"$5\r\n142-1\r\n");
    t.expect("xadd s 143-2 f v143 g x", b"$5\r\n143-2\r\n");
    t.expect("xadd s 144-0 f v144 g x", b"$5\r\n144-0\r\n");
    t.expect("xadd s 145-1 f v145 g x", b"$5\r\n145-1\r\n");
    t.expect("xadd s 146-2 f v146 g x", b"$5\r\n146-2\r\n");
    t.expect("xadd s 147-0 f v147 g x", b"$5\r\n147-0\r\n");
    t.expect("xadd s 148-1 f v148 g x", b"$5\r\n148-1\r\n");
    t.expect("xadd s 149-2 f v149 g x", b"$5\r\n149-2\r\n");
    t.expect("xadd s 150-0 f v150 g x", b"$5\r\n150-0\r\n");
    t.expect("xadd s 151-1 f v151 g x", b"$5\r\n151-1\r\n");
    t.expect("xadd s 152-2 f v152 g x", b"$5\r\n152-2\r\n");
    t.expect("xadd s 153-0 f v153 g x", b"$5\r\n153-0\r\n");
    t.expect("xadd s 154-1 f v154 g x", b"$5\r\n154-1\r\n");
    t.expect("xadd s 155-2 f v155 g x", b"$5\r\n155-2\r\n");
    t.expect("xadd s 156-0 f v156 g x", b"$5\r\n156-0\r\n");
    t.expect("xadd s 157-1 f v157 g x", b"$5\r\n157-1\r\n");
    t.expect("xadd s 158-2 f v158 g x", b"$5\r\n158-2\r\n");
    t.expect("xadd s 159-0 f v159 g x", b"$5\r\n159-0\r\n");
    t.expect("xadd s 160-1 f v160 g x", b"$5\r\n160-1\r\n");
    t.expect("xadd s 161-2 f v161 g x", b"$5\r\n161-2\r\n");
    t.expect("xadd s 162-0 f v162 g x", b"$5\r\n162-0\r\n");
    t.expect("xadd s 163-1 f v163 g x", b"$5\r\n163-1\r\n");
    t.expect("xadd s 164-2 f v164 g x", b"$5\r\n164-2\r\n");
    t.expect("xadd s 165-0 f v165 g x", b"$5\r\n165-0\r\n");
    t.expect("xadd s 166-1 f v166 g x", b"$5\r\n166-1\r\n");
    t.expect("xadd s 167-2 f v167 g x", b"$5\r\n167-2\r\n");
    t.expect("xadd s 168-0 f v168 g x", b"$5\r\n168-0\r\n");
    t.expect("xadd s 169-1 f v169 g x", b"$5\r\n169-1\r\n");
    t.expect("xadd s 170-2 f v170 g x", b"$5\r\n170-2\r\n");
    t.expect("xadd s 171-0 f v171 g x", b"$5\r\n171-0\r\n");
    t.expect("xadd s 172-1 f v172 g x", b"$5\r\n172-1\r\n");
    t.expect("xadd s 173-2 f v173 g x", b"$5\r\n173-2\r\n");
    t.expect("xadd s 174-0 f v174 g x", b"$5\r\n174-0\r\n");
    t.expect("xadd s 175-1 f v175 g x", b"$5\r\n175-1\r\n");
    t.expect("xadd s 176-2 f v176 g x", b"$5\r\n176-2\r\n");
    t.expect("xadd s 177-0 f v177 g x", b"$5\r\n177-0\r\n");
    t.expect("xadd s 178-1 f v178 g x", b"$5\r\n178-1\r\n");
    t.expect("xadd s 179-2 f v179 g x", b"$5\r\n179-2\r\n");
    t.expect("xadd s 180-0 f v180 g x", b"$5\r\n180-0\r\n");
    t.expect("xadd s 181-1 f v181 g x", b"$5\r\n181-1\r\n");
    t.expect("xadd s 182-2 f v182 g x", b"$5\r\n182-2\r\n");
    t.expect("xadd s 183-0 f v183 g x", b"$5\r\n183-0\r\n");
    t.expect("xadd s 184-1 f v184 g x", b"$5\r\n184-1\r\n");
    t.expect("xadd s 185-2 f v185 g x", b"$5\r\n185-2\r\n");
    t.expect("xadd s 186-0 f v186 g x", b"$5\r\n186-0\r\n");
    t.expect("xadd s 187-1 f v187 g x", b"$5\r\n187-1\r\n");
    t.expect("xadd s 188-2 f v188 g x", b"$5\r\n188-2\r\n");
    t.expect("xadd s 189-0 f v189 g x", b"$5\r\n189-0\r\n");
    t.expect("xadd s 190-1 f v190 g x", b"$5\r\n190-1\r\n");
    t.expect("xadd s 191-2 f v191 g x", b"$5\r\n191-2\r\n");
    t.expect("xadd s 192-0 f v192 g x", b"$5\r\n192-0\r\n");
    t.expect("xadd s 193-1 f v193 g x", b"$5\r\n193-1\r\n");
    t.expect("xadd s 194-2 f v194 g x", b"$5\r\n194-2\r\n");
    t.expect("xadd s 195-0 f v195 g x", b"$5\r\n195-0\r\n");
    t.expect("xadd s 196-1 f v196 g x", b"$5\r\n196-1\r\n");
    t.expect("xadd s 197-2 f v197 g x", b"$5\r\n197-2\r\n");
    t.expect("xadd s 198-0 f v198 g x", b"$5\r\n198-0\r\n");
    t.expect("xadd s 199-1 f v199 g x", b"$5\r\n199-1\r\n");
    t.expect("xadd s 200-2 f v200 g x", b"$5\r\n200-2\r\n");
    t.expect("xadd s 201-0 f v201 g x", b"$5\r\n201-0\r\n");
    t.expect("xadd s 202-1 f v202 g x", b"$5\r\n202-1\r\n");
    t.expect("xadd s 203-2 f v203 g x", b"$5\r\n203-2\r\n");
    t.expect("xadd s 204-0 f v204 g x", b"$5\r\n204-0\r\n");
    t.expect("xadd s 205-1 f v205 g x", b"$5\r\n205-1\r\n");
    t.expect("xadd s 206-2 f v206 g x", b"$5\r\n206-2\r\n");
    t.expect("xadd s 207-0 f v207 g x", b"$5\r\n207-0\r\n");
    t.expect("xadd s 208-1 f v208 g x", b"$5\r\n208-1\r\n");
    t.expect("xadd s 209-2 f v209 g x", b"$5\r\n209-2\r\n");
    t.expect("xadd s 210-0 f v210 g x", b"$5\r\n210-0\r\n");
    t.expect("xadd s 211-1 f v211 g x", b"$5\r\n211-1\r\n");
    t.expect("xadd s 212-2 f v212 g x", b"$5\r\n212-2\r\n");
    t.expect("xadd s 213-0 f v213 g x", b"$5\r\n213-0\r\n");
    t.expect("xadd s 214-1 f v214 g x", b"$5\r\n214-1\r\n");
    t.expect("xadd s 215-2 f v215 g x", b"$5\r\n215-2\r\n");
    t.expect("xadd s 216-0 f v216 g x", b"$5\r\n216-0\r\n");
    t.expect("xadd s 217-1 f v217 g x", b"$5\r\n217-1\r\n");
    t.expect("xadd s 218-2 f v218 g x", b"$5\r\n218-2\r\n");
    t.expect("xadd s 219-0 f v219 g x", b"$5\r\n219-0\r\n");
    t.expect("xadd s 220-1 f v220 g x", b"$5\r\n220-1\r\n");
    t.expect("xadd s 221-2 f v221 g x", b"$5\r\n221-2\r\n");
    t.expect("xadd s 222-0 f v222 g x", b"$5\r\n222-0\r\n");
    t.expect("xadd s 223-1 f v223 g x", b"$5\r\n223-1\r\n");
    t.expect("xadd s 224-2 f v224 g x", b"$5\r\n224-2\r\n");
    t.expect("xadd s 225-0 f v225 g x", b"$5\r\n225-0\r\n");
    t.expect("xadd s 226-1 f v226 g x", b"$5\r\n226-1\r\n");
    t.expect("xadd s 227-2 f v227 g x", b"$5\r\n227-2\r\n");
    t.expect("xadd s 228-0 f v228 g x", b"$5\r\n228-0\r\n");
    t.expect("xadd s 229-1 f v229 g x", b"$5\r\n229-1\r\n");
    t.expect("xadd s 230-2 f v230 g x", b"$5\r\n230-2\r\n");
    t.expect("xadd s 231-0 f v231 g x", b"$5\r\n231-0\r\n");
    t.expect("xadd s 232-1 f v232 g x", b"$5\r\n232-1\r\n");
    t.expect("xadd s 233-2 f v233 g x", b"$5\r\n233-2\r\n");
    t.expect("xadd s 234-0 f v234 g x", b"$5\r\n234-0\r\n");
    t.expect("xadd s 235-1 f v235 g x", b"$5\r\n235-1\r\n");
    t.expect("xadd s 236-2 f v236 g x", b"$5\r\n236-2\r\n");
    t.expect("xadd s 237-0 f v237 g x", b"$5\r\n237-0\r\n");
    t.expect("xadd s 238-1 f v238 g x", b"$5\r\n238-1\r\n");
    t.expect("xadd s 239-2 f v239 g x", b"$5\r\n239-2\r\n");
    t.expect("xadd s 240-0 f v240 g x", b"$5\r\n240-0\r\n");
    t.expect("xadd s 241-1 f v241 g x", b"$5\r\n241-1\r\n");
    t.expect("xadd s 242-2 f v242 g x", b"$5\r\n242-2\r\n");
    t.expect("xadd s 243-0 f v243 g x", b"$5\r\n243-0\r\n");
    t.expect("xadd s 244-1 f v244 g x", b"$5\r\n244-1\r\n");
    t.expect("xadd s 245-2 f v245 g x", b"$5\r\n245-2\r\n");
    t.expect("xadd s 246-0 f v246 g x", b"$5\r\n246-0\r\n");
    t.expect("xadd s 247-1 f v247 g x", b"$5\r\n247-1\r\n");
    t.expect("xadd s 248-2 f v248 g x", b"$5\r\n248-2\r\n");
    t.expect("xadd s 249-0 f v249 g x", b"$5\r\n249-0\r\n");
    t.expect("xadd s 250-1 f v250 g x", b"$5\r\n250-1\r\n");
    t.expect("xdel s 3-0 4-1 4-1 999-0", b":2\r\n");
    t.expect(
        "xdel s abc",
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
    t.expect("xdel nos 1-1", b":0\r\n");
    t.expect("xlen s", b":248\r\n");
    t.expect("xinfo stream s", b"*20\r\n$6\r\nlength\r\n:248\r\n$15\r\nradix-tree-keys\r\n:3\r\n$16\r\nradix-tree-nodes\r\n:8\r\n$17\r\nlast-generated-id\r\n$5\r\n250-1\r\n$20\r\nmax-deleted-entry-id\r\n$3\r\n4-1\r\n$13\r\nentries-added\r\n:250\r\n$23\r\nrecorded-first-entry-id\r\n$3\r\n1-1\r\n$6\r\ngroups\r\n:0\r\n$11\r\nfirst-entry\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\nf\r\n$2\r\nv1\r\n$1\r\ng\r\n$1\r\nx\r\n$10\r\nlast-entry\r\n*2\r\n$5\r\n250-1\r\n*4\r\n$1\r\nf\r\n$4\r\nv250\r\n$1\r\ng\r\n$1\r\nx\r\n");
    t.expect("xtrim s maxlen 240", b":8\r\n");
    t.expect("xtrim s maxlen ~ 100", b":90\r\n");
    t.expect("xtrim s minid ~ 150", b":0\r\n");
    t.expect("xtrim s minid 160-0", b":59\r\n");
    t.expect("xtrim s maxlen ~ 10 limit 50", b":41\r\n");
    t.expect(
        "xtrim s",
        b"-ERR wrong number of arguments for 'xtrim' command\r\n",
    );
    t.expect(
        "xtrim s limit 10",
        b"-ERR syntax error, LIMIT cannot be used without specifying a trimming strategy\r\n",
    );
    t.expect("xtrim nos maxlen 1", b":0\r\n");
    t.expect("xinfo stream s", b"*20\r\n$6\r\nlength\r\n:50\r\n$15\r\nradix-tree-keys\r\n:1\r\n$16\r\nradix-tree-nodes\r\n:2\r\n$17\r\nlast-generated-id\r\n$5\r\n250-1\r\n$20\r\nmax-deleted-entry-id\r\n$3\r\n4-1\r\n$13\r\nentries-added\r\n:250\r\n$23\r\nrecorded-first-entry-id\r\n$5\r\n201-0\r\n$6\r\ngroups\r\n:0\r\n$11\r\nfirst-entry\r\n*2\r\n$5\r\n201-0\r\n*4\r\n$1\r\nf\r\n$4\r\nv201\r\n$1\r\ng\r\n$1\r\nx\r\n$10\r\nlast-entry\r\n*2\r\n$5\r\n250-1\r\n*4\r\n$1\r\nf\r\n$4\r\nv250\r\n$1\r\ng\r\n$1\r\nx\r\n");
    t.expect(
        "xsetid s 1-1",
        b"-ERR The ID specified in XSETID is smaller than the target stream top item\r\n",
    );
    t.expect("xsetid s 999-1", b"+OK\r\n");
    t.expect(
        "xsetid s 1000-1 entriesadded 1",
        b"-ERR The entries_added specified in XSETID is smaller than the target stream length\r\n",
    );
    t.expect(
        "xsetid s 1000-1 entriesadded 5000 maxdeletedid 2000-1",
        b"-ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id\r\n",
    );
    t.expect(
        "xsetid s 1000-1 entriesadded 5000 maxdeletedid 10-1",
        b"+OK\r\n",
    );
    t.expect(
        "xsetid s 1000-1 entriesadded -1",
        b"-ERR entries_added must be positive\r\n",
    );
    t.expect("xsetid nos 1-1", b"-ERR no such key\r\n");
    t.expect(
        "xsetid s + ",
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
    t.expect("xsetid s 2000-1 foo", b"-ERR syntax error\r\n");
    t.expect("xinfo stream s", b"*20\r\n$6\r\nlength\r\n:50\r\n$15\r\nradix-tree-keys\r\n:1\r\n$16\r\nradix-tree-nodes\r\n:2\r\n$17\r\nlast-generated-id\r\n$6\r\n1000-1\r\n$20\r\nmax-deleted-entry-id\r\n$4\r\n10-1\r\n$13\r\nentries-added\r\n:5000\r\n$23\r\nrecorded-first-entry-id\r\n$5\r\n201-0\r\n$6\r\ngroups\r\n:0\r\n$11\r\nfirst-entry\r\n*2\r\n$5\r\n201-0\r\n*4\r\n$1\r\nf\r\n$4\r\nv201\r\n$1\r\ng\r\n$1\r\nx\r\n$10\r\nlast-entry\r\n*2\r\n$5\r\n250-1\r\n*4\r\n$1\r\nf\r\n$4\r\nv250\r\n$1\r\ng\r\n$1\r\nx\r\n");
    t.expect("xinfo stream s full count 3", b"*18\r\n$6\r\nlength\r\n:50\r\n$15\r\nradix-tree-keys\r\n:1\r\n$16\r\nradix-tree-nodes\r\n:2\r\n$17\r\nlast-generated-id\r\n$6\r\n1000-1\r\n$20\r\nmax-deleted-entry-id\r\n$4\r\n10-1\r\n$13\r\nentries-added\r\n:5000\r\n$23\r\nrecorded-first-entry-id\r\n$5\r\n201-0\r\n$7\r\nentries\r\n*3\r\n*2\r\n$5\r\n201-0\r\n*4\r\n$1\r\nf\r\n$4\r\nv201\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$5\r\n202-1\r\n*4\r\n$1\r\nf\r\n$4\r\nv202\r\n$1\r\ng\r\n$1\r\nx\r\n*2\r\n$5\r\n203-2\r\n*4\r\n$1\r\nf\r\n$4\r\nv203\r\n$1\r\ng\r\n$1\r\nx\r\n$6\r\ngroups\r\n*0\r\n");
    t.expect("xinfo stream nos", b"-ERR no such key\r\n");
    t.expect(
        "xinfo stream s full count",
        b"-ERR unknown subcommand or wrong number of arguments for 'stream'. Try XINFO HELP.\r\n",
    );
    t.expect(
        "xinfo stream s foo",
        b"-ERR unknown subcommand or wrong number of arguments for 'stream'. Try XINFO HELP.\r\n",
    );
    t.expect("xinfo help", b"*9\r\n+XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+CONSUMERS <key> <groupname>\r\n+    Show consumers of <groupname>.\r\n+GROUPS <key>\r\n+    Show the stream consumer groups.\r\n+STREAM <key> [FULL [COUNT <count>]\r\n+    Show information about the stream.\r\n+HELP\r\n+    Prints this help.\r\n");
    t.expect(
        "xinfo foo s",
        b"-ERR unknown subcommand 'foo'. Try XINFO HELP.\r\n",
    );
    t.expect(
        "xinfo groups",
        b"-ERR wrong number of arguments for 'xinfo|groups' command\r\n",
    );
    t.expect("xdel s 1000-1", b":0\r\n");
    t.expect("xadd e maxlen 0 5-1 x y", b"$3\r\n5-1\r\n");
    t.expect("xinfo stream e", b"*20\r\n$6\r\nlength\r\n:0\r\n$15\r\nradix-tree-keys\r\n:0\r\n$16\r\nradix-tree-nodes\r\n:1\r\n$17\r\nlast-generated-id\r\n$3\r\n5-1\r\n$20\r\nmax-deleted-entry-id\r\n$3\r\n0-0\r\n$13\r\nentries-added\r\n:1\r\n$23\r\nrecorded-first-entry-id\r\n$3\r\n0-0\r\n$6\r\ngroups\r\n:0\r\n$11\r\nfirst-entry\r\n$-1\r\n$10\r\nlast-entry\r\n$-1\r\n");
    t.expect("xinfo stream e full", b"*18\r\n$6\r\nlength\r\n:0\r\n$15\r\nradix-tree-keys\r\n:0\r\n$16\r\nradix-tree-nodes\r\n:1\r\n$17\r\nlast-generated-id\r\n$3\r\n5-1\r\n$20\r\nmax-deleted-entry-id\r\n$3\r\n0-0\r\n$13\r\nentries-added\r\n:1\r\n$23\r\nrecorded-first-entry-id\r\n$3\r\n0-0\r\n$7\r\nentries\r\n*0\r\n$6\r\ngroups\r\n*0\r\n");
    t.expect("xrange e - +", b"*0\r\n");
    t.expect("xlen e", b":0\r\n");
    t.expect("type e", b"+stream\r\n");
    t.expect("object encoding e", b"$6\r\nstream\r\n");
}

#[test]
fn groups() {
    let mut t = T::new();
    t.expect("xgroup create s g $", b"-ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.\r\n");
    t.expect("xgroup create s g $ mkstream", b"+OK\r\n");
    t.expect(
        "xgroup create s g $",
        b"-BUSYGROUP Consumer Group name already exists\r\n",
    );
    t.expect("xadd s 1-1 a 1", b"$3\r\n1-1\r\n");
    t.expect("xadd s 2-1 a 2 b 3", b"$3\r\n2-1\r\n");
    t.expect("xadd s 3-1 a 3", b"$3\r\n3-1\r\n");
    t.expect("xgroup create s g2 0 entriesread 1", b"+OK\r\n");
    t.expect(
        "xgroup create s g3 0 entriesread -2",
        b"-ERR value for ENTRIESREAD must be positive or -1\r\n",
    );
    t.expect(
        "xgroup create s g4 0 foo",
        b"-ERR unknown subcommand or wrong number of arguments for 'create'. Try XGROUP HELP.\r\n",
    );
    t.expect(
        "xgroup create s g5 abc",
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
    t.expect(
        "xgroup create s g6 -",
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
    t.expect("xinfo groups s", b"*2\r\n*12\r\n$4\r\nname\r\n$1\r\ng\r\n$9\r\nconsumers\r\n:0\r\n$7\r\npending\r\n:0\r\n$17\r\nlast-delivered-id\r\n$3\r\n0-0\r\n$12\r\nentries-read\r\n$-1\r\n$3\r\nlag\r\n:3\r\n*12\r\n$4\r\nname\r\n$2\r\ng2\r\n$9\r\nconsumers\r\n:0\r\n$7\r\npending\r\n:0\r\n$17\r\nlast-delivered-id\r\n$3\r\n0-0\r\n$12\r\nentries-read\r\n:1\r\n$3\r\nlag\r\n:2\r\n");
    t.expect(
        "xreadgroup group g alice count 1 streams s >",
        b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    t.expect("xreadgroup group g alice streams s >", b"*1\r\n*2\r\n$1\r\ns\r\n*2\r\n*2\r\n$3\r\n2-1\r\n*4\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nb\r\n$1\r\n3\r\n*2\r\n$3\r\n3-1\r\n*2\r\n$1\r\na\r\n$1\r\n3\r\n");
    t.expect("xreadgroup group g bob streams s >", b"*-1\r\n");
    t.expect("xreadgroup group g alice streams s 0", b"*1\r\n*2\r\n$1\r\ns\r\n*3\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\n2-1\r\n*4\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nb\r\n$1\r\n3\r\n*2\r\n$3\r\n3-1\r\n*2\r\n$1\r\na\r\n$1\r\n3\r\n");
    t.expect("xreadgroup group g alice count 1 streams s 1-1", b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*4\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nb\r\n$1\r\n3\r\n");
    t.expect(
        "xreadgroup group nog alice streams s >",
        b"-NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option\r\n",
    );
    t.expect(
        "xreadgroup group g alice streams nos >",
        b"-NOGROUP No such key 'nos' or consumer group 'g' in XREADGROUP with GROUP option\r\n",
    );
    t.expect("xreadgroup group g alice streams s $", b"-ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.\r\n");
    t.expect("xread streams s >", b"-ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.\r\n");
    t.expect(
        "xreadgroup streams s >",
        b"-ERR wrong number of arguments for 'xreadgroup' command\r\n",
    );
    t.expect(
        "xread group g a streams s >",
        b"-ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.\r\n",
    );
    t.expect(
        "xread noack streams s 0",
        b"-ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.\r\n",
    );
    t.expect(
        "xreadgroup group g alice streams s",
        b"-ERR wrong number of arguments for 'xreadgroup' command\r\n",
    );
    t.expect("xreadgroup group g alice streams s s > >", b"*-1\r\n");
    t.expect(
        "xpending s g",
        b"*4\r\n:3\r\n$3\r\n1-1\r\n$3\r\n3-1\r\n*1\r\n*2\r\n$5\r\nalice\r\n$1\r\n3\r\n",
    );
    t.expect("xpending s g idle 1000000 - + 10 alice", b"*0\r\n");
    t.expect(
        "xpending s nog",
        b"-NOGROUP No such key 's' or consumer group 'nog'\r\n",
    );
    t.expect("xpending s g - +", b"-ERR syntax error\r\n");
    t.expect(
        "xpending s g - + abc",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "xpending s g idle abc - + 10",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("xpending s g idle 0 - +", b"-ERR syntax error\r\n");
    t.expect("xack s g 1-1 9-9", b":1\r\n");
    t.expect(
        "xack s g abc",
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
    t.expect("xack s nog 1-1", b":0\r\n");
    t.expect("xack nos g 1-1", b":0\r\n");
    t.expect(
        "xpending s g",
        b"*4\r\n:2\r\n$3\r\n2-1\r\n$3\r\n3-1\r\n*1\r\n*2\r\n$5\r\nalice\r\n$1\r\n2\r\n",
    );
    t.expect("xgroup createconsumer s g carol", b":1\r\n");
    t.expect("xgroup createconsumer s g carol", b":0\r\n");
    t.expect(
        "xgroup createconsumer s nog carol",
        b"-NOGROUP No such consumer group 'nog' for key name 's'\r\n",
    );
    t.expect("xinfo groups s", b"*2\r\n*12\r\n$4\r\nname\r\n$1\r\ng\r\n$9\r\nconsumers\r\n:2\r\n$7\r\npending\r\n:2\r\n$17\r\nlast-delivered-id\r\n$3\r\n3-1\r\n$12\r\nentries-read\r\n:3\r\n$3\r\nlag\r\n:0\r\n*12\r\n$4\r\nname\r\n$2\r\ng2\r\n$9\r\nconsumers\r\n:0\r\n$7\r\npending\r\n:0\r\n$17\r\nlast-delivered-id\r\n$3\r\n0-0\r\n$12\r\nentries-read\r\n:1\r\n$3\r\nlag\r\n:2\r\n");
    t.expect(
        "xclaim s g carol 0 2-1 3-1 justid",
        b"*2\r\n$3\r\n2-1\r\n$3\r\n3-1\r\n",
    );
    t.expect("xclaim s g carol 0 1-1", b"*0\r\n");
    t.expect(
        "xclaim s g carol 0 3-1 force justid",
        b"*1\r\n$3\r\n3-1\r\n",
    );
    t.expect(
        "xclaim s g carol abc 3-1",
        b"-ERR Invalid min-idle-time argument for XCLAIM\r\n",
    );
    t.expect(
        "xclaim s g carol 0 3-1 foo",
        b"-ERR Unrecognized XCLAIM option 'foo'\r\n",
    );
    t.expect(
        "xclaim s g carol 0 3-1 idle abc",
        b"-ERR Invalid IDLE option argument for XCLAIM\r\n",
    );
    t.expect(
        "xclaim s nog carol 0 1-1",
        b"-NOGROUP No such key 's' or consumer group 'nog'\r\n",
    );
    t.expect("xdel s 3-1", b":1\r\n");
    t.expect("xclaim s g carol 0 3-1", b"*0\r\n");
    t.expect(
        "xpending s g",
        b"*4\r\n:1\r\n$3\r\n2-1\r\n$3\r\n2-1\r\n*1\r\n*2\r\n$5\r\ncarol\r\n$1\r\n1\r\n",
    );
    t.expect(
        "xautoclaim s g dave 0 0 count 10 justid",
        b"*3\r\n$3\r\n0-0\r\n*1\r\n$3\r\n2-1\r\n*0\r\n",
    );
    t.expect(
        "xautoclaim s g dave 0 0 count 0",
        b"-ERR COUNT must be > 0\r\n",
    );
    t.expect("xautoclaim s g dave 0 0 foo", b"-ERR syntax error\r\n");
    t.expect(
        "xautoclaim s nog dave 0 0",
        b"-NOGROUP No such key 's' or consumer group 'nog'\r\n",
    );
    t.expect(
        "xautoclaim s g dave abc 0",
        b"-ERR Invalid min-idle-time argument for XAUTOCLAIM\r\n",
    );
    t.expect("xgroup delconsumer s g dave", b":1\r\n");
    t.expect("xgroup delconsumer s g nobody", b":0\r\n");
    t.expect("xgroup setid s g 0", b"+OK\r\n");
    t.expect("xgroup setid s g 1-1 entriesread 1", b"+OK\r\n");
    t.expect("xgroup setid s g $", b"+OK\r\n");
    t.expect(
        "xgroup setid s nog $",
        b"-NOGROUP No such consumer group 'nog' for key name 's'\r\n",
    );
    t.expect("xinfo groups s", b"*2\r\n*12\r\n$4\r\nname\r\n$1\r\ng\r\n$9\r\nconsumers\r\n:2\r\n$7\r\npending\r\n:0\r\n$17\r\nlast-delivered-id\r\n$3\r\n3-1\r\n$12\r\nentries-read\r\n$-1\r\n$3\r\nlag\r\n:0\r\n*12\r\n$4\r\nname\r\n$2\r\ng2\r\n$9\r\nconsumers\r\n:0\r\n$7\r\npending\r\n:0\r\n$17\r\nlast-delivered-id\r\n$3\r\n0-0\r\n$12\r\nentries-read\r\n:1\r\n$3\r\nlag\r\n$-1\r\n");
    t.expect(
        "xinfo consumers s nog",
        b"-NOGROUP No such consumer group 'nog' for key name 's'\r\n",
    );
    t.expect("xgroup destroy s g2", b":1\r\n");
    t.expect("xgroup destroy s g2", b":0\r\n");
    t.expect(
        "xgroup foo s g",
        b"-ERR unknown subcommand 'foo'. Try XGROUP HELP.\r\n",
    );
    t.expect(
        "xgroup create s",
        b"-ERR wrong number of arguments for 'xgroup|create' command\r\n",
    );
    t.expect("xgroup help", b"*17\r\n+XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+CREATE <key> <groupname> <id|$> [option]\r\n+    Create a new consumer group. Options are:\r\n+    * MKSTREAM\r\n+      Create the empty stream if it does not exist.\r\n+    * ENTRIESREAD entries_read\r\n+      Set the group's entries_read counter (internal use).\r\n+CREATECONSUMER <key> <groupname> <consumer>\r\n+    Create a new consumer in the specified group.\r\n+DELCONSUMER <key> <groupname> <consumer>\r\n+    Remove the specified consumer.\r\n+DESTROY <key> <groupname>\r\n+    Remove the specified group.\r\n+SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]\r\n+    Set the current group ID and entries_read counter.\r\n+HELP\r\n+    Prints this help.\r\n");
    t.expect("xgroup create nos g $", b"-ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.\r\n");
    t.expect("xgroup setid nos g $", b"-ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.\r\n");
    t.expect("xadd s 4-1 a 4", b"$3\r\n4-1\r\n");
    t.expect(
        "xreadgroup group g3 eve noack streams s >",
        b"-NOGROUP No such key 's' or consumer group 'g3' in XREADGROUP with GROUP option\r\n",
    );
    t.expect("xinfo groups s", b"*1\r\n*12\r\n$4\r\nname\r\n$1\r\ng\r\n$9\r\nconsumers\r\n:2\r\n$7\r\npending\r\n:0\r\n$17\r\nlast-delivered-id\r\n$3\r\n3-1\r\n$12\r\nentries-read\r\n$-1\r\n$3\r\nlag\r\n$-1\r\n");
    t.expect("xdel s 1-1", b":1\r\n");
    t.expect("xinfo groups s", b"*1\r\n*12\r\n$4\r\nname\r\n$1\r\ng\r\n$9\r\nconsumers\r\n:2\r\n$7\r\npending\r\n:0\r\n$17\r\nlast-delivered-id\r\n$3\r\n3-1\r\n$12\r\nentries-read\r\n$-1\r\n$3\r\nlag\r\n$-1\r\n");
    t.expect(
        "xreadgroup group g eve count 0 streams s >",
        b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n4-1\r\n*2\r\n$1\r\na\r\n$1\r\n4\r\n",
    );
    t.expect("xinfo stream s", b"*20\r\n$6\r\nlength\r\n:2\r\n$15\r\nradix-tree-keys\r\n:1\r\n$16\r\nradix-tree-nodes\r\n:2\r\n$17\r\nlast-generated-id\r\n$3\r\n4-1\r\n$20\r\nmax-deleted-entry-id\r\n$3\r\n3-1\r\n$13\r\nentries-added\r\n:4\r\n$23\r\nrecorded-first-entry-id\r\n$3\r\n2-1\r\n$6\r\ngroups\r\n:1\r\n$11\r\nfirst-entry\r\n*2\r\n$3\r\n2-1\r\n*4\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nb\r\n$1\r\n3\r\n$10\r\nlast-entry\r\n*2\r\n$3\r\n4-1\r\n*2\r\n$1\r\na\r\n$1\r\n4\r\n");
}

#[test]
fn xread_many() {
    let mut t = T::new();
    t.expect("xadd a 1-1 f 1", b"$3\r\n1-1\r\n");
    t.expect("xadd b 1-1 f 2", b"$3\r\n1-1\r\n");
    t.expect("xadd b 2-1 f 3", b"$3\r\n2-1\r\n");
    t.expect("xread streams a b 0 0", b"*2\r\n*2\r\n$1\r\na\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n*2\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\n2\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\nf\r\n$1\r\n3\r\n");
    t.expect("xread count 1 streams a b 0 1-1", b"*2\r\n*2\r\n$1\r\na\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\nf\r\n$1\r\n3\r\n");
    t.expect("xread streams a b $ $", b"*-1\r\n");
    t.expect("xread streams a b 1-1 2-1", b"*-1\r\n");
    t.expect("xread streams a b 0", b"-ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.\r\n");
    t.expect(
        "xread streams a",
        b"-ERR wrong number of arguments for 'xread' command\r\n",
    );
    t.expect(
        "xread count abc streams a 0",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "xread block abc streams a 0",
        b"-ERR timeout is not an integer or out of range\r\n",
    );
    t.expect(
        "xread block -1 streams a 0",
        b"-ERR timeout is negative\r\n",
    );
    t.expect("xread foo streams a 0", b"-ERR syntax error\r\n");
    t.expect(
        "xread streams a abc",
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
    t.expect("xread streams nos 0", b"*-1\r\n");
    t.expect("set str x", b"+OK\r\n");
    t.expect(
        "xread streams a str 0 0",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "xread streams str a 0 abc",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "xread count -5 streams a 0",
        b"*1\r\n*2\r\n$1\r\na\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\n1\r\n",
    );
}

#[test]
fn resp3_replies() {
    let mut t = T::resp3();
    t.expect("xadd a 1-1 f 1 g 2", b"$3\r\n1-1\r\n");
    t.expect("xadd b 1-1 f 2", b"$3\r\n1-1\r\n");
    t.expect("xread streams a b 0 0", b"%2\r\n$1\r\na\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\nf\r\n$1\r\n1\r\n$1\r\ng\r\n$1\r\n2\r\n$1\r\nb\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\n2\r\n");
    t.expect(
        "xrange a - +",
        b"*1\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\nf\r\n$1\r\n1\r\n$1\r\ng\r\n$1\r\n2\r\n",
    );
    t.expect("xinfo stream a", b"%10\r\n$6\r\nlength\r\n:1\r\n$15\r\nradix-tree-keys\r\n:1\r\n$16\r\nradix-tree-nodes\r\n:2\r\n$17\r\nlast-generated-id\r\n$3\r\n1-1\r\n$20\r\nmax-deleted-entry-id\r\n$3\r\n0-0\r\n$13\r\nentries-added\r\n:1\r\n$23\r\nrecorded-first-entry-id\r\n$3\r\n1-1\r\n$6\r\ngroups\r\n:0\r\n$11\r\nfirst-entry\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\nf\r\n$1\r\n1\r\n$1\r\ng\r\n$1\r\n2\r\n$10\r\nlast-entry\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\nf\r\n$1\r\n1\r\n$1\r\ng\r\n$1\r\n2\r\n");
    t.expect("xgroup create a g 0", b"+OK\r\n");
    t.expect("xinfo groups a", b"*1\r\n%6\r\n$4\r\nname\r\n$1\r\ng\r\n$9\r\nconsumers\r\n:0\r\n$7\r\npending\r\n:0\r\n$17\r\nlast-delivered-id\r\n$3\r\n0-0\r\n$12\r\nentries-read\r\n_\r\n$3\r\nlag\r\n:1\r\n");
    t.expect("xpending a g", b"*4\r\n:0\r\n_\r\n_\r\n_\r\n");
    t.expect("xreadgroup group g x streams a >", b"%1\r\n$1\r\na\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\nf\r\n$1\r\n1\r\n$1\r\ng\r\n$1\r\n2\r\n");
    t.expect(
        "xpending a g",
        b"*4\r\n:1\r\n$3\r\n1-1\r\n$3\r\n1-1\r\n*1\r\n*2\r\n$1\r\nx\r\n$1\r\n1\r\n",
    );
    t.expect("xread streams a $", b"_\r\n");
    t.expect(
        "xautoclaim a g y 0 0 justid",
        b"*3\r\n$3\r\n0-0\r\n*1\r\n$3\r\n1-1\r\n*0\r\n",
    );
}
