package wire

import (
	"fmt"
	"strings"
)

// String describes the frame for debug logs, e.g. "STREAM id=4 off=100
// len=1000 fin". It allocates; call it behind a log level check.
func (f *Frame) String() string {
	t := f.Type
	switch {
	case t == FramePadding:
		return fmt.Sprintf("PADDING len=%d", f.Padding)
	case t == FramePing || t == FrameHandshakeDone || t == FrameImmediateAck:
		return t.String()
	case t == FrameAck || t == FrameAckECN || t == FramePathAck || t == FramePathAckECN:
		a := &f.Ack
		var sb strings.Builder
		sb.WriteString(t.String())
		if a.Multipath {
			fmt.Fprintf(&sb, " path=%d", a.PathID)
		}
		fmt.Fprintf(&sb, " delay=%d ranges=", a.Delay)
		for i, r := range a.Ranges {
			if i > 0 {
				sb.WriteByte(',')
			}
			if i == 8 {
				fmt.Fprintf(&sb, "...(%d more)", len(a.Ranges)-i)
				break
			}
			fmt.Fprintf(&sb, "%d-%d", r.Smallest, r.Largest)
		}
		if a.ECN {
			fmt.Fprintf(&sb, " ecn=%d/%d/%d", a.ECT0, a.ECT1, a.ECNCE)
		}
		return sb.String()
	case t == FrameResetStream:
		return fmt.Sprintf("RESET_STREAM id=%d code=%#x final=%d", f.ResetStream.StreamID, f.ResetStream.Code, f.ResetStream.FinalSize)
	case t == FrameStopSending:
		return fmt.Sprintf("STOP_SENDING id=%d code=%#x", f.StopSending.StreamID, f.StopSending.Code)
	case t == FrameCrypto:
		return fmt.Sprintf("CRYPTO off=%d len=%d", f.Crypto.Offset, len(f.Crypto.Data))
	case t == FrameNewToken:
		return fmt.Sprintf("NEW_TOKEN len=%d", len(f.NewToken.Token))
	case t.IsStream():
		s := &f.Stream
		fin := ""
		if s.Fin {
			fin = " fin"
		}
		return fmt.Sprintf("STREAM id=%d off=%d len=%d%s", s.StreamID, s.Offset, len(s.Data), fin)
	case t == FrameMaxData:
		return fmt.Sprintf("MAX_DATA max=%d", f.MaxData.Max)
	case t == FrameMaxStreamData:
		return fmt.Sprintf("MAX_STREAM_DATA id=%d max=%d", f.MaxStreamData.StreamID, f.MaxStreamData.Max)
	case t == FrameMaxStreamsBidi || t == FrameMaxStreamsUni:
		return fmt.Sprintf("%v max=%d", t, f.MaxStreams.Max)
	case t == FrameDataBlocked:
		return fmt.Sprintf("DATA_BLOCKED limit=%d", f.DataBlocked.Limit)
	case t == FrameStreamDataBlocked:
		return fmt.Sprintf("STREAM_DATA_BLOCKED id=%d limit=%d", f.StreamDataBlocked.StreamID, f.StreamDataBlocked.Limit)
	case t == FrameStreamsBlockedBidi || t == FrameStreamsBlockedUni:
		return fmt.Sprintf("%v limit=%d", t, f.StreamsBlocked.Limit)
	case t == FrameNewConnectionID || t == FramePathNewConnectionID:
		n := &f.NewConnectionID
		return fmt.Sprintf("%v path=%d seq=%d retire_prior_to=%d cid=%x", t, n.PathID, n.Seq, n.RetirePriorTo, n.CID)
	case t == FrameRetireConnectionID || t == FramePathRetireConnectionID:
		return fmt.Sprintf("%v path=%d seq=%d", t, f.RetireConnectionID.PathID, f.RetireConnectionID.Seq)
	case t == FramePathChallenge || t == FramePathResponse:
		return fmt.Sprintf("%v data=%x", t, f.PathChallenge.Data)
	case t == FrameConnectionClose || t == FrameApplicationClose:
		c := &f.ConnectionClose
		if c.Application {
			return fmt.Sprintf("CONNECTION_CLOSE_APP code=%#x reason=%q", c.Code, c.Reason)
		}
		return fmt.Sprintf("CONNECTION_CLOSE code=%#x frame=%v reason=%q", c.Code, c.FrameType, c.Reason)
	case t == FrameDatagram || t == FrameDatagramLen:
		return fmt.Sprintf("DATAGRAM len=%d", len(f.Datagram.Data))
	case t == FrameAckFrequency:
		a := &f.AckFrequency
		return fmt.Sprintf("ACK_FREQUENCY seq=%d threshold=%d max_ack_delay=%dus reordering=%d",
			a.Seq, a.AckElicitingThreshold, a.RequestMaxAckDelay, a.ReorderingThreshold)
	case t == FramePathAbandon:
		return fmt.Sprintf("PATH_ABANDON path=%d code=%#x", f.PathAbandon.PathID, f.PathAbandon.Code)
	case t == FramePathStatusAvailable || t == FramePathStatusBackup:
		return fmt.Sprintf("%v path=%d seq=%d", t, f.PathStatus.PathID, f.PathStatus.Seq)
	case t == FrameMaxPathID || t == FramePathsBlocked:
		return fmt.Sprintf("%v path=%d", t, f.MaxPathID.PathID)
	case t == FramePathCIDsBlocked:
		return fmt.Sprintf("PATH_CIDS_BLOCKED path=%d next_seq=%d", f.PathCIDsBlocked.PathID, f.PathCIDsBlocked.NextSeq)
	case t == FrameRemoveAddress:
		return fmt.Sprintf("REMOVE_ADDRESS seq=%d", f.RemoveAddress.Seq)
	case t.Known():
		return fmt.Sprintf("%v seq=%d addr=%v", t, f.Address.Seq, f.Address.Addr)
	}
	return t.String()
}
