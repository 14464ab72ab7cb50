package sensor

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"

	"golang.org/x/crypto/ssh"
)

// maxSSHPacket is the largest binary packet RFC 4253 §6.1 makes a peer
// accept; a length beyond it is not SSH.
const maxSSHPacket = 35000

// serveSSH speaks first, as SSH servers do (RFC 4253 §4.2): it sends the
// identification string, reads the client's, sends a KEXINIT and reads the
// client's KEXINIT. The probe is what the client sent up to the end of that
// first binary packet (identification line and KEXINIT; anything after it
// is cut): what the ssh service parses, HASSH included.
func (cs *session) serveSSH() {
	defer cs.release()
	if !cs.write([]byte(cs.s.cfg.SSHIdent + "\r\n")) {
		return
	}
	if cs.readUntil(cs.sshIdentDone) == whole && sshLike(cs.buf) && !cs.s.isStopping() {
		if !cs.write(serverKexInit()) {
			cs.store()
			return
		}
		if cs.readUntil(cs.sshKexInitDone) == whole {
			// A client that sent its next packet at once (x/crypto/ssh
			// sends its key share) gets only the KEXINIT stored.
			end, _ := sshKexInitEnd(cs.buf)
			cs.buf = cs.buf[:end]
		}
	}
	cs.store()
}

// sshLike reports whether b starts like an identification string.
func sshLike(b []byte) bool {
	const prefix = "SSH-"
	if len(b) < len(prefix) {
		return bytes.HasPrefix([]byte(prefix), b)
	}
	return bytes.HasPrefix(b, []byte(prefix))
}

// sshIdentDone: the identification line ended. Bytes that do not start
// like SSH are cut by the ordinary first-message rule instead.
func (cs *session) sshIdentDone(b []byte) bool {
	if !sshLike(b) {
		return cs.complete(b)
	}
	return bytes.IndexByte(b, '\n') >= 0
}

// sshKexInitDone: the first binary packet after the identification line
// arrived whole (or its length says it is no SSH packet).
func (cs *session) sshKexInitDone(b []byte) bool {
	_, ok := sshKexInitEnd(b)
	return ok
}

// sshKexInitEnd returns where the first binary packet after the
// identification line ends, once it is known: with a length that is no SSH
// packet's, the bytes so far are the message.
func sshKexInitEnd(b []byte) (int, bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 || len(b)-(i+1) < 4 {
		return 0, false
	}
	n := binary.BigEndian.Uint32(b[i+1:])
	if n < 5 || n > maxSSHPacket {
		return len(b), true
	}
	end := i + 1 + 4 + int(n)
	return end, len(b) >= end
}

// kexInit is SSH_MSG_KEXINIT (RFC 4253 §7.1), marshalled by x/crypto/ssh.
type kexInit struct {
	Cookie                  [16]byte `sshtype:"20"`
	KexAlgos                []string
	ServerHostKeyAlgos      []string
	CiphersClientServer     []string
	CiphersServerClient     []string
	MACsClientServer        []string
	MACsServerClient        []string
	CompressionClientServer []string
	CompressionServerClient []string
	LanguagesClientServer   []string
	LanguagesServerClient   []string
	FirstKexFollows         bool
	Reserved                uint32
}

// serverKexInit is the binary packet of a KEXINIT with the algorithms of
// the OpenSSH 9.2 that DefaultSSHIdent names, and a fresh cookie.
func serverKexInit() []byte {
	ciphers := []string{"chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"}
	macs := []string{"umac-64-etm@openssh.com", "umac-128-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com",
		"hmac-sha1-etm@openssh.com", "umac-64@openssh.com", "umac-128@openssh.com", "hmac-sha2-256", "hmac-sha2-512", "hmac-sha1"}
	comp := []string{"none", "zlib@openssh.com"}
	msg := kexInit{
		KexAlgos: []string{"sntrup761x25519-sha512@openssh.com", "curve25519-sha256", "curve25519-sha256@libssh.org",
			"ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521", "diffie-hellman-group-exchange-sha256",
			"diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512", "diffie-hellman-group14-sha256", "kex-strict-s-v00@openssh.com"},
		ServerHostKeyAlgos:  []string{"rsa-sha2-512", "rsa-sha2-256", "ecdsa-sha2-nistp256", "ssh-ed25519"},
		CiphersClientServer: ciphers, CiphersServerClient: ciphers,
		MACsClientServer: macs, MACsServerClient: macs,
		CompressionClientServer: comp, CompressionServerClient: comp,
		LanguagesClientServer: []string{}, LanguagesServerClient: []string{},
	}
	rand.Read(msg.Cookie[:])
	return sshPacket(ssh.Marshal(&msg))
}

// sshPacket frames payload as an unencrypted binary packet (RFC 4253 §6):
// length, padding length, payload, at least 4 random padding bytes, the
// whole a multiple of 8.
func sshPacket(payload []byte) []byte {
	pad := 8 - (5+len(payload))%8
	if pad < 4 {
		pad += 8
	}
	out := make([]byte, 0, 5+len(payload)+pad)
	out = binary.BigEndian.AppendUint32(out, uint32(1+len(payload)+pad))
	out = append(out, byte(pad))
	out = append(out, payload...)
	padding := make([]byte, pad)
	rand.Read(padding)
	return append(out, padding...)
}
